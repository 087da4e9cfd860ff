#include "ringleader/testing/fake_client.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <set>

#include "ringleader/common/rfc3339.h"

namespace ringleader::kube {
namespace {

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

// What the real server's answer becomes on the client: nothing, when the caller asked for the
// outcome only (so tests catch a caller that reads an answer it did not ask for).
ApiResult<Json> Answered(ApiResult<Json> result, Answer answer) {
  if (result.ok() && answer == Answer::kOutcomeOnly) return Json();
  return result;
}

}  // namespace

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

struct FakeClient::Impl {
  struct StoredEvent {
    int64_t rv;
    std::string resource;
    WatchEventType type;
    Json object;
  };
  struct Injection {
    std::string verb, resource;
    ApiStatus error;
    int times;
  };

  mutable std::mutex mu;
  mutable std::condition_variable_any cv;
  int64_t rv = 0;
  uint64_t uid_counter = 0;
  std::map<std::string, std::map<std::string, Json>> objects;  // resource → key → object
  std::deque<StoredEvent> history;
  int64_t compacted_rv = 0;
  std::vector<FakeAction> actions;
  std::vector<Injection> injections;
  std::set<std::string> expire_next;
  int open_watches = 0;
  uint64_t close_generation = 0;

  std::string NewUid() {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012llu",
                  static_cast<unsigned long long>(++uid_counter));
    return buf;
  }

  void RecordLocked(const std::string& verb, const GroupVersionResource& gvr, const std::string& ns,
                    const std::string& name, const std::string& sub, const Json& body) {
    actions.push_back(FakeAction{verb, gvr.ToString(), ns, name, sub, body});
  }

  std::optional<ApiStatus> InjectedLocked(const std::string& verb, const GroupVersionResource& gvr) {
    for (auto it = injections.begin(); it != injections.end(); ++it) {
      if (it->verb == verb && (it->resource.empty() || it->resource == gvr.ToString())) {
        ApiStatus error = it->error;
        if (--it->times <= 0) injections.erase(it);
        return error;
      }
    }
    return std::nullopt;
  }

  static ApiResult<Json> Error(int code, const std::string& reason, const std::string& message,
                               const GroupVersionResource& gvr, const std::string& name,
                               std::vector<ApiStatusCause> causes = {}) {
    ApiStatus api;
    api.http_code = code;
    api.reason = reason;
    api.message = message;
    api.details_name = name;
    api.details_kind = gvr.resource;
    api.causes = std::move(causes);
    return ToStatus(api, "fake " + gvr.ToString() + " " + name);
  }

  static ApiResult<Json> Injected(const ApiStatus& api, const std::string& verb,
                                  const GroupVersionResource& gvr) {
    return ToStatus(api, "fake " + verb + " " + gvr.ToString() + " (injected)");
  }

  void EmitLocked(const GroupVersionResource& gvr, WatchEventType type, const Json& object) {
    history.push_back(StoredEvent{rv, gvr.ToString(), type, object});
    // Bounded history: older watches get 410 like after etcd compaction.
    while (history.size() > 10000) {
      compacted_rv = history.front().rv;
      history.pop_front();
    }
    cv.notify_all();
  }

  static std::string NameOf(const Json& object) {
    if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
      return "";
    }
    return object["metadata"].value("name", "");
  }

  static Json SpecLike(const Json& object) {
    // Everything but metadata and status: a change here bumps generation.
    Json copy = object;
    if (copy.is_object()) {
      copy.erase("metadata");
      copy.erase("status");
    }
    return copy;
  }

  // Writes `updated` over `old` for the main resource or the status subresource.
  Json MergeWriteLocked(const GroupVersionResource& gvr, const Json& old, const Json& updated,
                        bool status_subresource) {
    Json result;
    if (status_subresource) {
      result = old;
      if (updated.contains("status")) result["status"] = updated["status"];
      else result.erase("status");
    } else {
      result = updated;
      if (HasStatusSubresource(gvr)) {
        if (old.contains("status")) result["status"] = old["status"];
        else result.erase("status");
      }
      // Server-owned metadata.
      for (const char* field : {"uid", "creationTimestamp", "generation", "deletionTimestamp"}) {
        if (old["metadata"].contains(field)) result["metadata"][field] = old["metadata"][field];
        else result["metadata"].erase(field);
      }
      int64_t generation = old["metadata"].value("generation", int64_t{1});
      if (SpecLike(old) != SpecLike(result)) ++generation;
      result["metadata"]["generation"] = generation;
    }
    result["metadata"]["resourceVersion"] = std::to_string(++rv);
    return result;
  }

  Json* FindLocked(const GroupVersionResource& gvr, const std::string& ns, const std::string& name) {
    auto& bucket = objects[gvr.ToString()];
    auto it = bucket.find(MakeKey(gvr.namespaced ? ns : "", name));
    return it == bucket.end() ? nullptr : &it->second;
  }

  ApiResult<Json> WriteLocked(const GroupVersionResource& gvr, const std::string& ns,
                              const std::string& name, const Json& updated, bool status_sub,
                              bool check_rv) {
    Json* existing = FindLocked(gvr, ns, name);
    if (!existing) {
      return Error(404, "NotFound", gvr.resource + " \"" + name + "\" not found", gvr, name);
    }
    if (check_rv && updated.is_object() && updated.contains("metadata")) {
      std::string want = updated["metadata"].value("resourceVersion", "");
      if (!want.empty() && want != (*existing)["metadata"].value("resourceVersion", "")) {
        return Error(409, "Conflict",
                     "Operation cannot be fulfilled on " + gvr.ToString() + " \"" + name +
                         "\": the object has been modified; please apply your changes to the "
                         "latest version and try again",
                     gvr, name);
      }
    }
    Json result = MergeWriteLocked(gvr, *existing, updated, status_sub);
    // A write that clears the last finalizer of a terminating object completes the delete.
    bool terminating = result["metadata"].contains("deletionTimestamp");
    bool no_finalizers = !result["metadata"].contains("finalizers") ||
                         result["metadata"]["finalizers"].empty();
    if (terminating && no_finalizers) {
      objects[gvr.ToString()].erase(MakeKey(gvr.namespaced ? ns : "", name));
      EmitLocked(gvr, WatchEventType::kDeleted, result);
      return result;
    }
    *existing = result;
    EmitLocked(gvr, WatchEventType::kModified, result);
    return result;
  }

  void CascadeLocked(const std::string& owner_uid, const std::string& ns) {
    // Background garbage collection, done at once (the real one is asynchronous).
    std::vector<std::pair<std::string, std::string>> victims;  // resource, key
    for (auto& [resource, bucket] : objects) {
      for (auto& [key, object] : bucket) {
        const Json& refs = object["metadata"].value("ownerReferences", Json::array());
        for (const Json& ref : refs) {
          if (ref.value("uid", "") == owner_uid) victims.emplace_back(resource, key);
        }
      }
    }
    for (auto& [resource, key] : victims) {
      auto it = objects[resource].find(key);
      if (it == objects[resource].end()) continue;
      Json object = it->second;
      objects[resource].erase(it);
      ++rv;
      object["metadata"]["resourceVersion"] = std::to_string(rv);
      history.push_back(StoredEvent{rv, resource, WatchEventType::kDeleted, object});
      CascadeLocked(object["metadata"].value("uid", ""), ns);
    }
    cv.notify_all();
  }

  bool MatchesLocked(const Json& object, const std::string& ns, const std::string& label_selector,
                     const std::string& field_selector) {
    if (!ns.empty() && object["metadata"].value("namespace", "") != ns) return false;
    if (!label_selector.empty()) {
      StatusOr<bool> match =
          MatchesLabelSelector(label_selector, object["metadata"].value("labels", Json::object()));
      if (!match.ok() || !*match) return false;
    }
    if (!field_selector.empty()) {
      StatusOr<bool> match = MatchesFieldSelector(field_selector, object);
      if (!match.ok() || !*match) return false;
    }
    return true;
  }
};

FakeClient::FakeClient() : impl_(std::make_unique<Impl>()) {}
FakeClient::~FakeClient() { CloseWatches(); }

ApiResult<Json> FakeClient::Get(const GroupVersionResource& gvr, const std::string& ns,
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

ApiResult<Json> FakeClient::List(const GroupVersionResource& gvr, const std::string& ns,
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

ApiResult<Json> FakeClient::Create(const GroupVersionResource& gvr, const std::string& ns,
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

ApiResult<Json> FakeClient::Update(const GroupVersionResource& gvr, const std::string& ns,
                                   const Json& object) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string name = Impl::NameOf(object);
  impl_->RecordLocked("update", gvr, ns, name, "", object);
  if (auto error = impl_->InjectedLocked("update", gvr)) return Impl::Injected(*error, "update", gvr);
  return impl_->WriteLocked(gvr, ns, name, object, /*status_sub=*/false, /*check_rv=*/true);
}

ApiResult<Json> FakeClient::UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                                         const Json& object, Answer answer) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string name = Impl::NameOf(object);
  impl_->RecordLocked("update", gvr, ns, name, "status", object);
  if (auto error = impl_->InjectedLocked("update", gvr)) return Impl::Injected(*error, "update", gvr);
  return Answered(impl_->WriteLocked(gvr, ns, name, object, /*status_sub=*/HasStatusSubresource(gvr),
                                     /*check_rv=*/true),
                  answer);
}

ApiResult<Json> FakeClient::Patch(const GroupVersionResource& gvr, const std::string& ns,
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

ApiResult<Json> FakeClient::Delete(const GroupVersionResource& gvr, const std::string& ns,
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

Status FakeClient::Watch(const GroupVersionResource& gvr, const std::string& ns,
                         const WatchOptions& options, const WatchHandler& handler,
                         std::stop_token stop) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->RecordLocked("watch", gvr, ns, "", "", {{"resourceVersion", options.resource_version}});
  if (auto error = impl_->InjectedLocked("watch", gvr)) {
    return ToStatus(*error, "fake watch " + gvr.ToString() + " (injected)");
  }
  const std::string resource = gvr.ToString();
  const std::string watch_ns = gvr.namespaced ? ns : "";
  auto deliver_error = [&](const std::string& message) {
    Json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                   {"message", message}, {"reason", "Expired"}, {"code", 410}};
    lock.unlock();
    handler(WatchEvent{WatchEventType::kError, status});
    return Status(StatusCode::kGone, "fake watch " + resource + ": " + message);
  };
  if (impl_->expire_next.erase(resource)) return deliver_error("injected: too old resource version");
  int64_t position = impl_->rv;
  std::vector<WatchEvent> pending;
  if (options.resource_version.empty() || options.resource_version == "0") {
    // "Start at most recent" with a synthetic ADDED per existing object, like the server.
    for (const auto& [key, object] : impl_->objects[resource]) {
      if (impl_->MatchesLocked(object, watch_ns, options.label_selector, options.field_selector)) {
        pending.push_back(WatchEvent{WatchEventType::kAdded, object});
      }
    }
  } else {
    try {
      position = std::stoll(options.resource_version);
    } catch (...) {
      return InvalidArgumentError("fake watch: bad resourceVersion " + options.resource_version);
    }
    if (position < impl_->compacted_rv) {
      return deliver_error("too old resource version: " + options.resource_version + " (" +
                           std::to_string(impl_->compacted_rv) + ")");
    }
  }
  const uint64_t generation = impl_->close_generation;
  ++impl_->open_watches;
  impl_->cv.notify_all();
  Status result = Status::Ok();
  while (true) {
    for (const auto& event : impl_->history) {
      if (event.rv <= position) continue;
      position = event.rv;
      if (event.resource != resource) continue;
      if (!impl_->MatchesLocked(event.object, watch_ns, options.label_selector,
                                options.field_selector)) {
        continue;
      }
      pending.push_back(WatchEvent{event.type, event.object});
    }
    if (!pending.empty()) {
      lock.unlock();
      bool keep_going = true;
      for (auto& event : pending) {
        if (!handler(std::move(event))) {
          keep_going = false;
          break;
        }
      }
      pending.clear();
      lock.lock();
      if (!keep_going) break;
      continue;  // new events may have arrived while unlocked
    }
    if (stop.stop_requested() || impl_->close_generation != generation) break;
    impl_->cv.wait(lock, stop, [&] {
      return impl_->close_generation != generation ||
             (!impl_->history.empty() && impl_->history.back().rv > position);
    });
  }
  --impl_->open_watches;
  impl_->cv.notify_all();
  return result;
}

std::vector<FakeAction> FakeClient::Actions() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->actions;
}

std::vector<FakeAction> FakeClient::ActionsFor(const std::string& verb,
                                               const std::string& resource) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<FakeAction> out;
  for (const auto& action : impl_->actions) {
    if (action.verb == verb && (resource.empty() || action.resource == resource)) {
      out.push_back(action);
    }
  }
  return out;
}

void FakeClient::ClearActions() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->actions.clear();
}

void FakeClient::InjectError(const std::string& verb, const std::string& resource,
                             ApiStatus error, int times) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->injections.push_back(Impl::Injection{verb, resource, std::move(error), times});
}

void FakeClient::CloseWatches() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  ++impl_->close_generation;
  impl_->cv.notify_all();
}

void FakeClient::ExpireNextWatch(const std::string& resource) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->expire_next.insert(resource);
}

void FakeClient::Compact() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->compacted_rv = impl_->rv;
  impl_->history.clear();
}

void FakeClient::Seed(const GroupVersionResource& gvr, Json object) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Json& meta = object["metadata"];
  if (!meta.contains("uid")) meta["uid"] = impl_->NewUid();
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = NowRfc3339();
  if (!meta.contains("generation")) meta["generation"] = 1;
  meta["resourceVersion"] = std::to_string(++impl_->rv);
  std::string ns = gvr.namespaced ? meta.value("namespace", "") : "";
  std::string key = MakeKey(ns, meta.value("name", ""));
  auto& bucket = impl_->objects[gvr.ToString()];
  bool existed = bucket.count(key) > 0;
  bucket[key] = object;
  impl_->EmitLocked(gvr, existed ? WatchEventType::kModified : WatchEventType::kAdded, object);
}

int FakeClient::OpenWatches() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->open_watches;
}

bool FakeClient::WaitForWatches(int n, std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_until(lock, deadline, [&] { return impl_->open_watches >= n; });
}

int64_t FakeClient::CurrentResourceVersion() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->rv;
}

}  // namespace ringleader::kube
