#include "ringleader/testing/fake_client.h"

#include <algorithm>
#include <ctime>

#include "fake_client_impl.h"

namespace ringleader::kube {
namespace fake_detail {

std::string NowRfc3339() { return FormatRfc3339(std::chrono::system_clock::now()); }

bool HasStatusSubresource(const GroupVersionResource& gvr) {
  static const std::set<std::string> kWithout = {"events", "leases", "configmaps", "secrets",
                                                 "serviceaccounts"};
  return kWithout.count(gvr.resource) == 0;
}

StatusOr<Selectors> Selectors::Parse(const std::string& label_selector,
                                     const std::string& field_selector) {
  StatusOr<testapi::LabelSelector> labels = testapi::LabelSelector::Parse(label_selector);
  if (!labels.ok()) return labels.status();
  StatusOr<testapi::FieldSelector> fields = testapi::FieldSelector::Parse(field_selector);
  if (!fields.ok()) return fields.status();
  return Selectors{*std::move(labels), *std::move(fields)};
}

bool Selectors::Matches(const Json& object, const std::string& ns) const {
  static const Json kMissing;
  auto field = [](const Json& parent, const char* key) -> const Json& {
    if (!parent.is_object()) return kMissing;
    auto it = parent.find(key);
    return it == parent.end() ? kMissing : *it;
  };
  const Json& metadata = field(object, "metadata");
  if (!ns.empty() && field(metadata, "namespace") != ns) return false;
  return labels.MatchesJson(field(metadata, "labels")) && fields.Matches(object);
}

StatusOr<Json> Answered(StatusOr<Json> result, Answer answer) {
  if (result.ok() && answer == Answer::kOutcomeOnly) return Json();
  return result;
}


}  // namespace fake_detail

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
  StatusOr<Selectors> selectors = Selectors::Parse(options.label_selector, options.field_selector);
  if (!selectors.ok()) return Impl::Error(400, "BadRequest", selectors.status().message(), gvr, "");
  Json items = Json::array();
  std::string next;
  const auto& bucket = impl_->objects[gvr.ToString()];
  // Continue token: the last key of the previous page (objects are kept sorted by key).
  auto it = options.continue_token.empty() ? bucket.begin()
                                           : bucket.upper_bound(options.continue_token);
  for (; it != bucket.end(); ++it) {
    if (!selectors->Matches(it->second, gvr.namespaced ? ns : "")) {
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
