#include "ringleader/testing/fake_client.h"

#include <algorithm>
#include <ctime>

#include "fake_client_impl.h"

namespace ringleader::kube {
namespace fake_detail {

std::string NowRfc3339() { return FormatRfc3339(std::chrono::system_clock::now()); }

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Splits on commas outside parentheses.
std::vector<std::string> SplitTerms(const std::string& selector) {
  std::vector<std::string> terms;
  std::string current;
  int depth = 0;
  for (char c : selector) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      terms.push_back(Trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!Trim(current).empty()) terms.push_back(Trim(current));
  return terms;
}

bool HasStatusSubresource(const GroupVersionResource& gvr) {
  static const std::set<std::string> kWithout = {"events", "leases", "configmaps", "secrets",
                                                 "serviceaccounts"};
  return kWithout.count(gvr.resource) == 0;
}

const Json* FieldAt(const Json& object, const std::string& dotted) {
  const Json* node = &object;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return node;
}

StatusOr<bool> MatchesFieldSelector(const std::string& selector, const Json& object) {
  for (const std::string& term : SplitTerms(selector)) {
    bool negate = false;
    size_t op = term.find("!=");
    size_t value_at;
    if (op != std::string::npos) {
      negate = true;
      value_at = op + 2;
    } else if ((op = term.find("==")) != std::string::npos) {
      value_at = op + 2;
    } else if ((op = term.find('=')) != std::string::npos) {
      value_at = op + 1;
    } else {
      return InvalidArgumentError("field selector term \"" + term + "\" has no operator");
    }
    std::string field = Trim(term.substr(0, op));
    std::string want = Trim(term.substr(value_at));
    const Json* node = FieldAt(object, field);
    std::string have;
    if (node && node->is_string()) have = node->get<std::string>();
    else if (node && !node->is_null()) have = node->dump();
    if ((have == want) == negate) return false;
  }
  return true;
}

StatusOr<Json> Answered(StatusOr<Json> result, Answer answer) {
  if (result.ok() && answer == Answer::kOutcomeOnly) return Json();
  return result;
}


}  // namespace fake_detail

using fake_detail::SplitTerms;
using fake_detail::Trim;


StatusOr<bool> MatchesLabelSelector(const std::string& selector, const Json& labels) {
  auto label = [&](const std::string& key) -> const Json* {
    if (!labels.is_object()) return nullptr;
    auto it = labels.find(key);
    return it == labels.end() ? nullptr : &*it;
  };
  for (const std::string& term : SplitTerms(selector)) {
    if (term.empty()) continue;
    size_t paren = term.find('(');
    if (paren != std::string::npos) {
      if (term.back() != ')') return InvalidArgumentError("label selector: bad set term " + term);
      std::string head = Trim(term.substr(0, paren));
      size_t space = head.find_last_of(" \t");
      if (space == std::string::npos) return InvalidArgumentError("label selector: bad term " + term);
      std::string key = Trim(head.substr(0, space));
      std::string op = Trim(head.substr(space + 1));
      std::set<std::string> values;
      for (const std::string& v : SplitTerms(term.substr(paren + 1, term.size() - paren - 2))) {
        values.insert(v);
      }
      const Json* have = label(key);
      bool in = have && have->is_string() && values.count(have->get<std::string>());
      if (op == "in") {
        if (!in) return false;
      } else if (op == "notin") {
        if (in) return false;
      } else {
        return InvalidArgumentError("label selector: unknown operator " + op);
      }
      continue;
    }
    size_t op;
    if ((op = term.find("!=")) != std::string::npos) {
      const Json* have = label(Trim(term.substr(0, op)));
      if (have && have->is_string() && have->get<std::string>() == Trim(term.substr(op + 2))) {
        return false;
      }
    } else if ((op = term.find("==")) != std::string::npos ||
               (op = term.find('=')) != std::string::npos) {
      size_t width = term.compare(op, 2, "==") == 0 ? 2 : 1;
      const Json* have = label(Trim(term.substr(0, op)));
      if (!have || !have->is_string() || have->get<std::string>() != Trim(term.substr(op + width))) {
        return false;
      }
    } else if (term[0] == '!') {
      if (label(Trim(term.substr(1)))) return false;
    } else {
      if (!label(term)) return false;
    }
  }
  return true;
}


FakeClient::FakeClient() : impl_(std::make_unique<Impl>()) {}
FakeClient::~FakeClient() { CloseWatches(); }

StatusOr<Json> FakeClient::Get(const GroupVersionResource& gvr, const std::string& ns,
                                const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->RecordLocked("get", gvr, ns, name, "", nullptr);
  if (auto error = impl_->InjectedLocked("get", gvr)) return Impl::Injected(*error, "get", gvr);
  Json* object = impl_->FindLocked(gvr, ns, name);
  if (!object) {
    return Impl::Error(404, "NotFound", gvr.ToString() + " \"" + name + "\" not found", gvr, name);
  }
  return *object;
}

StatusOr<Json> FakeClient::List(const GroupVersionResource& gvr, const std::string& ns,
                                 const ListOptions& options) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->RecordLocked("list", gvr, ns, "", "", nullptr);
  if (auto error = impl_->InjectedLocked("list", gvr)) return Impl::Injected(*error, "list", gvr);
  if (!options.label_selector.empty()) {
    StatusOr<bool> parsed = MatchesLabelSelector(options.label_selector, Json::object());
    if (!parsed.ok()) return Impl::Error(400, "BadRequest", parsed.status().message(), gvr, "");
  }
  Json items = Json::array();
  std::string next;
  const auto& bucket = impl_->objects[gvr.ToString()];
  // Continue token: the last key of the previous page (objects are kept sorted by key).
  auto it = options.continue_token.empty() ? bucket.begin()
                                           : bucket.upper_bound(options.continue_token);
  for (; it != bucket.end(); ++it) {
    if (!impl_->MatchesLocked(it->second, gvr.namespaced ? ns : "", options.label_selector,
                              options.field_selector)) {
      continue;
    }
    if (options.limit > 0 && static_cast<int64_t>(items.size()) == options.limit) {
      next = std::prev(it)->first;
      break;
    }
    items.push_back(it->second);
  }
  Json list = {{"apiVersion", gvr.ApiVersion()},
               {"kind", "List"},
               {"metadata", {{"resourceVersion", std::to_string(impl_->rv)}}},
               {"items", std::move(items)}};
  if (!next.empty()) list["metadata"]["continue"] = next;
  return list;
}

StatusOr<Json> FakeClient::Create(const GroupVersionResource& gvr, const std::string& ns,
                                   const Json& object, Answer answer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string name = Impl::NameOf(object);
  impl_->RecordLocked("create", gvr, ns, name, "", object);
  if (auto error = impl_->InjectedLocked("create", gvr)) return Impl::Injected(*error, "create", gvr);
  Json created = object;
  if (!created.is_object()) created = Json::object();
  if (!created.contains("metadata") || !created["metadata"].is_object()) {
    created["metadata"] = Json::object();
  }
  Json& meta = created["metadata"];
  if (name.empty()) {
    std::string prefix = meta.value("generateName", "");
    if (prefix.empty()) {
      return Impl::Error(422, "Invalid", "metadata.name: Required value: name or generateName is "
                         "required", gvr, "", {{"FieldValueRequired", "Required value", "metadata.name"}});
    }
    name = prefix + std::to_string(10000 + impl_->uid_counter);
    meta["name"] = name;
  }
  if (!meta.value("resourceVersion", "").empty()) {
    return Impl::Error(400, "BadRequest", "resourceVersion should not be set on objects to be "
                       "created", gvr, name);
  }
  if (impl_->FindLocked(gvr, ns, name)) {
    return Impl::Error(409, "AlreadyExists", gvr.ToString() + " \"" + name + "\" already exists",
                       gvr, name);
  }
  if (gvr.namespaced) meta["namespace"] = ns;
  meta["uid"] = impl_->NewUid();
  meta["creationTimestamp"] = NowRfc3339();
  meta["generation"] = 1;
  meta["resourceVersion"] = std::to_string(++impl_->rv);
  if (HasStatusSubresource(gvr)) created.erase("status");
  if (!created.contains("apiVersion")) created["apiVersion"] = gvr.ApiVersion();
  impl_->objects[gvr.ToString()][MakeKey(gvr.namespaced ? ns : "", name)] = created;
  impl_->EmitLocked(gvr, WatchEventType::kAdded, created);
  return Answered(std::move(created), answer);
}

StatusOr<Json> FakeClient::Update(const GroupVersionResource& gvr, const std::string& ns,
                                   const Json& object) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string name = Impl::NameOf(object);
  impl_->RecordLocked("update", gvr, ns, name, "", object);
  if (auto error = impl_->InjectedLocked("update", gvr)) return Impl::Injected(*error, "update", gvr);
  return impl_->WriteLocked(gvr, ns, name, object, /*status_sub=*/false, /*check_rv=*/true);
}

StatusOr<Json> FakeClient::UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                                         const Json& object, Answer answer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string name = Impl::NameOf(object);
  impl_->RecordLocked("update", gvr, ns, name, "status", object);
  if (auto error = impl_->InjectedLocked("update", gvr)) return Impl::Injected(*error, "update", gvr);
  return Answered(impl_->WriteLocked(gvr, ns, name, object, /*status_sub=*/HasStatusSubresource(gvr),
                                     /*check_rv=*/true),
                  answer);
}

StatusOr<Json> FakeClient::Patch(const GroupVersionResource& gvr, const std::string& ns,
                                  const std::string& name, PatchType type, const Json& patch,
                                  const std::string& subresource, Answer answer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->RecordLocked("patch", gvr, ns, name, subresource, patch);
  if (auto error = impl_->InjectedLocked("patch", gvr)) return Impl::Injected(*error, "patch", gvr);
  Json* existing = impl_->FindLocked(gvr, ns, name);
  if (!existing) {
    return Impl::Error(404, "NotFound", gvr.ToString() + " \"" + name + "\" not found", gvr, name);
  }
  Json patched = *existing;
  bool check_rv = false;
  try {
    if (type == PatchType::kJson) {
      patched = existing->patch(patch);
    } else {
      // Strategic merge is treated as a JSON merge patch: lists are replaced, not merged by
      // key. Our controllers only strategic-patch maps and scalars.
      patched.merge_patch(patch);
      check_rv = patch.is_object() && patch.contains("metadata") &&
                 patch["metadata"].is_object() && patch["metadata"].contains("resourceVersion");
    }
  } catch (const Json::exception& e) {
    return Impl::Error(422, "Invalid", std::string("patch cannot be applied: ") + e.what(), gvr,
                       name);
  }
  bool status_sub = subresource == "status" && HasStatusSubresource(gvr);
  return Answered(impl_->WriteLocked(gvr, ns, name, patched, status_sub, check_rv), answer);
}

StatusOr<Json> FakeClient::Delete(const GroupVersionResource& gvr, const std::string& ns,
                                   const std::string& name, const DeleteOptions& options) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Json body = Json::object();
  if (options.propagation_policy) body["propagationPolicy"] = *options.propagation_policy;
  if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
  }
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  impl_->RecordLocked("delete", gvr, ns, name, "", body);
  if (auto error = impl_->InjectedLocked("delete", gvr)) return Impl::Injected(*error, "delete", gvr);
  Json* existing = impl_->FindLocked(gvr, ns, name);
  if (!existing) {
    return Impl::Error(404, "NotFound", gvr.ToString() + " \"" + name + "\" not found", gvr, name);
  }
  const Json& meta = (*existing)["metadata"];
  if (options.precondition_uid && meta.value("uid", "") != *options.precondition_uid) {
    return Impl::Error(409, "Conflict", "Precondition failed: UID in precondition: " +
                       *options.precondition_uid + ", UID in object meta: " + meta.value("uid", ""),
                       gvr, name);
  }
  if (options.precondition_resource_version &&
      meta.value("resourceVersion", "") != *options.precondition_resource_version) {
    return Impl::Error(409, "Conflict", "Precondition failed: ResourceVersion in precondition: " +
                       *options.precondition_resource_version + ", ResourceVersion in object "
                       "meta: " + meta.value("resourceVersion", ""), gvr, name);
  }
  Json object = *existing;
  bool has_finalizers = meta.contains("finalizers") && !meta["finalizers"].empty();
  if (has_finalizers) {
    if (!object["metadata"].contains("deletionTimestamp")) {
      object["metadata"]["deletionTimestamp"] = NowRfc3339();
      object["metadata"]["resourceVersion"] = std::to_string(++impl_->rv);
      *existing = object;
      impl_->EmitLocked(gvr, WatchEventType::kModified, object);
    }
    return object;
  }
  impl_->objects[gvr.ToString()].erase(MakeKey(gvr.namespaced ? ns : "", name));
  object["metadata"]["resourceVersion"] = std::to_string(++impl_->rv);
  impl_->EmitLocked(gvr, WatchEventType::kDeleted, object);
  if (options.propagation_policy.value_or("Background") != "Orphan") {
    impl_->CascadeLocked(object["metadata"].value("uid", ""), ns);
  }
  return object;
}

}  // namespace ringleader::kube
