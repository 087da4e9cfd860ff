// Deletion: one object (finalizers, foreground/orphan propagation, the graceful deletion of
// bound pods that leaves them Terminating until their kubelet confirms, namespaces that turn
// Terminating before the namespace controller empties them, CRDs that take their custom
// resources along), garbage collection by ownerReferences, and the DELETE handlers.

#include <algorithm>
#include <set>

#include "server_impl.h"

namespace ringleader::testapi {

void TestApiServer::Impl::NamespaceControllerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    FinishNamespaceTerminationsLocked();
    if (terminating_namespaces_.empty()) {
      namespace_cv_.wait(lock);
    } else {
      auto next = terminating_namespaces_.begin()->second;
      for (const auto& [ns, due] : terminating_namespaces_) next = std::min(next, due);
      namespace_cv_.wait_until(lock, next);
    }
  }
}

void TestApiServer::Impl::FinishNamespaceTerminationsLocked() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = terminating_namespaces_.begin(); it != terminating_namespaces_.end();) {
    if (now < it->second) {
      ++it;
      continue;
    }
    const std::string ns = it->first;
    it = terminating_namespaces_.erase(it);
    for (auto& t : types_) {
      if (!t.active || !t.namespaced) continue;
      auto objs = objects_.find(t.Key());
      if (objs == objects_.end()) continue;
      std::vector<json> doomed;
      for (auto& [okey, o] : objs->second) {
        if (Namespace(o) == ns) doomed.push_back(o);
      }
      for (auto& o : doomed) RemoveObject(t, o);
    }
    const ResourceType* ns_type = FindType("", "v1", "namespaces");
    if (json* stored = FindObject(ns_type->Key(), "", ns)) {
      json gone = *stored;
      RemoveObject(*ns_type, gone);
    }
  }
}

void TestApiServer::Impl::DeleteObjectLocked(const ResourceType& type, json& stored, const std::string& propagation,
                                             std::optional<int64_t> grace_seconds) {
  json object = stored;  // `stored` is invalidated by Commit
  if (propagation == "Orphan") OrphanDependentsLocked(Uid(object));
  std::vector<std::string> finalizers = Finalizers(object);
  if (propagation == "Foreground" &&
      std::find(finalizers.begin(), finalizers.end(), "foregroundDeletion") == finalizers.end()) {
    finalizers.push_back("foregroundDeletion");
  }
  if (type.plural == "pods" && options_.simulate_pods && finalizers.empty() &&
      !StrField(object, "spec", "nodeName").empty() && DeferBoundPodDeletionLocked(type, object, grace_seconds)) {
    return;
  }
  if (!finalizers.empty()) {
    if (!HasDeletionTimestamp(object) || Finalizers(object) != finalizers) {
      json old = object;
      if (!HasDeletionTimestamp(object)) {
        object["metadata"]["deletionTimestamp"] = NowRfc3339();
        object["metadata"]["deletionGracePeriodSeconds"] = 0;
        // Like the real registry (rest.BeforeDelete): starting a deletion bumps generation.
        if (object["metadata"].contains("generation")) {
          object["metadata"]["generation"] = object["metadata"]["generation"].get<int64_t>() + 1;
        }
      }
      object["metadata"]["finalizers"] = finalizers;
      Commit(type, "MODIFIED", object, &old);
    }
    return;
  }
  if (type.plural == "namespaces") {
    // Like the real server: the namespace turns Terminating and its content stays a moment
    // (the namespace controller removes it asynchronously), so `kubectl delete -k` can still
    // delete the namespaced objects it lists after the Namespace. New content is refused.
    if (!HasDeletionTimestamp(object)) {
      json old = object;
      object["metadata"]["deletionTimestamp"] = NowRfc3339();
      object["status"]["phase"] = "Terminating";
      Commit(type, "MODIFIED", object, &old);
      terminating_namespaces_[Name(object)] = std::chrono::steady_clock::now() + kNamespaceTermination;
      namespace_cv_.notify_all();
    }
    return;
  }
  if (type.plural == "customresourcedefinitions") RemoveCustomResourcesLocked(object);
  RemoveObject(type, object);
}

void TestApiServer::Impl::OrphanDependentsLocked(const std::string& uid) {
  for (auto& [tkey, objs] : objects_) {
    const ResourceType* dep_type = FindTypeByKey(tkey);
    if (dep_type == nullptr) continue;
    std::vector<std::string> keys;
    for (auto& [okey, dep] : objs) {
      const json& refs = dep["metadata"].value("ownerReferences", json::array());
      for (const auto& r : refs) {
        if (r.value("uid", "") == uid) keys.push_back(okey);
      }
    }
    for (const auto& okey : keys) {
      json dep = objs[okey];
      json old = dep;
      json kept = json::array();
      for (const auto& r : dep["metadata"]["ownerReferences"]) {
        if (r.value("uid", "") != uid) kept.push_back(r);
      }
      if (kept.empty()) {
        dep["metadata"].erase("ownerReferences");
      } else {
        dep["metadata"]["ownerReferences"] = kept;
      }
      Commit(*dep_type, "MODIFIED", dep, &old);
    }
  }
}

bool TestApiServer::Impl::DeferBoundPodDeletionLocked(const ResourceType& type, json& object,
                                                      std::optional<int64_t> grace_seconds) {
  // A bound pod is the kubelet's to remove (the registry's graceful deletion): it stays,
  // Terminating, until its node confirms the containers stopped. Only a grace period of 0
  // (kubectl delete --force --grace-period=0) removes it without the kubelet.
  int64_t grace = 30;
  const json& spec = object["spec"];
  if (spec.contains("terminationGracePeriodSeconds") && spec["terminationGracePeriodSeconds"].is_number_integer()) {
    grace = std::max<int64_t>(0, spec["terminationGracePeriodSeconds"].get<int64_t>());
  }
  if (grace_seconds) grace = std::max<int64_t>(0, *grace_seconds);
  // As the registry's CheckGracefulDelete: a pod that already ended has nothing to stop.
  const std::string phase = StrField(object, "status", "phase");
  if (phase == "Succeeded" || phase == "Failed") grace = 0;
  if (grace <= 0) return false;
  if (!HasDeletionTimestamp(object)) {
    json old = object;
    // As the real registry: deletionTimestamp is when the grace period ends.
    object["metadata"]["deletionTimestamp"] =
        FormatRfc3339(std::chrono::system_clock::now() + std::chrono::seconds(grace));
    object["metadata"]["deletionGracePeriodSeconds"] = grace;
    Commit(type, "MODIFIED", object, &old);
    auto stop = std::min<std::chrono::milliseconds>(options_.pod_stop_delay, std::chrono::seconds(grace));
    pending_pod_deletions_[Uid(object)] = std::chrono::steady_clock::now() + stop;
    sim_cv_.notify_all();
  }
  return true;
}

void TestApiServer::Impl::RemoveCustomResourcesLocked(json& crd) {
  // The real server holds the CRD with deletionTimestamp while it removes the custom
  // resources; here that is instantaneous, so only the timestamp shows.
  crd["metadata"]["deletionTimestamp"] = NowRfc3339();
  for (auto& t : types_) {
    if (!t.active || !t.custom || t.crd_name != Name(crd)) continue;
    auto it = objects_.find(t.Key());
    if (it != objects_.end()) {
      std::vector<json> doomed;
      for (auto& [okey, o] : it->second) doomed.push_back(o);
      for (auto& o : doomed) RemoveObject(t, o);
    }
    t.active = false;
    for (auto& w : watchers_) {
      if (w->type_key == t.Key()) {
        w->closed = true;
        w->cv.notify_all();
      }
    }
    ++openapi_generation_;
  }
}

void TestApiServer::Impl::RunGarbageCollection() {
  for (int round = 0; round < 64; ++round) {
    std::set<std::string> referenced;  // owner uids still referenced by a live dependent
    for (auto& [tkey, objs] : objects_) {
      for (auto& [okey, o] : objs) {
        auto m = o.find("metadata");
        if (m == o.end() || !m->contains("ownerReferences")) continue;
        for (const auto& r : (*m)["ownerReferences"]) referenced.insert(r.value("uid", ""));
      }
    }
    struct Action {
      const ResourceType* type;
      std::string key;
      bool finish_foreground;  // drop the foregroundDeletion finalizer
    };
    std::vector<Action> actions;
    for (auto& [tkey, objs] : objects_) {
      const ResourceType* type = FindTypeByKey(tkey);
      if (type == nullptr) continue;
      for (auto& [okey, o] : objs) {
        const json& meta = o["metadata"];
        if (HasDeletionTimestamp(o)) {
          auto f = Finalizers(o);
          if (std::find(f.begin(), f.end(), "foregroundDeletion") != f.end() && !referenced.count(Uid(o))) {
            actions.push_back({type, okey, true});
          }
          continue;
        }
        if (!meta.contains("ownerReferences") || meta["ownerReferences"].empty()) continue;
        bool owner_alive = false;
        for (const auto& r : meta["ownerReferences"]) {
          json* owner = FindObjectByUid(r.value("uid", ""));
          if (owner == nullptr) continue;
          auto of = Finalizers(*owner);
          bool owner_foreground =
              HasDeletionTimestamp(*owner) && std::find(of.begin(), of.end(), "foregroundDeletion") != of.end();
          if (!owner_foreground) owner_alive = true;
        }
        if (!owner_alive) actions.push_back({type, okey, false});
      }
    }
    if (actions.empty()) return;
    for (const Action& a : actions) {
      auto tobjs = objects_.find(a.type->Key());
      if (tobjs == objects_.end()) continue;
      auto oit = tobjs->second.find(a.key);
      if (oit == tobjs->second.end()) continue;
      if (a.finish_foreground) {
        json obj = oit->second;
        json old = obj;
        json kept = json::array();
        for (const auto& f : obj["metadata"]["finalizers"]) {
          if (f != "foregroundDeletion") kept.push_back(f);
        }
        if (kept.empty()) {
          obj["metadata"].erase("finalizers");
          RemoveObject(*a.type, obj);
        } else {
          obj["metadata"]["finalizers"] = kept;
          Commit(*a.type, "MODIFIED", obj, &old);
        }
      } else {
        DeleteObjectLocked(*a.type, oit->second, "Background");
      }
    }
  }
}

ResourceAnswer TestApiServer::Impl::DeleteLocked(const ResourceRequest& r) {
  const ResourceType& type = *r.target.type;
  const RequestTarget& t = r.target;
  const json& body = r.body;
  json* stored = FindObject(type.Key(), t.namespace_name, t.name);
  if (stored == nullptr) {
    return ResourceAnswer::Fail(NotFound(type, t.name));
  }
  std::string propagation = r.http.Query("propagationPolicy");
  if (body.is_object()) {
    if (body.contains("propagationPolicy") && body["propagationPolicy"].is_string()) {
      propagation = body["propagationPolicy"];
    } else if (body.contains("orphanDependents") && body["orphanDependents"].is_boolean() &&
               body["orphanDependents"].get<bool>()) {
      propagation = "Orphan";
    }
    if (auto failed = FailedPrecondition(type, t.name, *stored, body)) return ResourceAnswer::Fail(*failed);
  }
  if (!propagation.empty() && propagation != "Orphan" && propagation != "Background" && propagation != "Foreground") {
    return ResourceAnswer::Fail({422, "Invalid", "propagationPolicy: Unsupported value: \"" + propagation + "\"", nullptr, {}});
  }
  std::optional<int64_t> grace_seconds;
  if (std::string q = r.http.Query("gracePeriodSeconds"); !q.empty()) grace_seconds = std::atoll(q.c_str());
  if (body.is_object() && body.contains("gracePeriodSeconds") && body["gracePeriodSeconds"].is_number_integer()) {
    grace_seconds = body["gracePeriodSeconds"].get<int64_t>();
  }
  std::string uid = Uid(*stored);
  DeleteObjectLocked(type, *stored, propagation, grace_seconds);
  json result;
  json* still = FindObject(type.Key(), t.namespace_name, t.name);
  if (still != nullptr) {
    result = *still;  // kept by finalizers: the object with deletionTimestamp
  }
  RunGarbageCollection();
  if (still == nullptr) result = DeletedAnswerLocked(type, t.name, uid);
  return ResourceAnswer::Ok(200, result);
}

std::optional<ApiError> TestApiServer::Impl::FailedPrecondition(const ResourceType& type, const std::string& name,
                                                                const json& stored, const json& body) {
  if (!body.contains("preconditions") || !body["preconditions"].is_object()) return std::nullopt;
  const json& pre = body["preconditions"];
  std::string uid = pre.value("uid", "");
  std::string rv = pre.value("resourceVersion", "");
  std::string why;
  if (!uid.empty() && uid != Uid(stored)) {
    why = "Precondition failed: UID in precondition: " + uid + ", UID in object meta: " + Uid(stored);
  } else if (!rv.empty() && rv != stored["metadata"].value("resourceVersion", "")) {
    why = "Precondition failed: ResourceVersion in precondition: " + rv +
          ", ResourceVersion in object meta: " + stored["metadata"].value("resourceVersion", "");
  }
  if (why.empty()) return std::nullopt;
  return ConflictError(type, name, why);
}

json TestApiServer::Impl::DeletedAnswerLocked(const ResourceType& type, const std::string& name,
                                              const std::string& uid) const {
  if (type.custom) {
    json details = DetailsFor(type, name, true);
    details["uid"] = uid;
    return {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Success"}, {"details", details}};
  }
  // Built-ins answer with the object as it was deleted.
  const HistoryEvent* last = nullptr;
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if (it->type == "DELETED" && Uid(*it->object) == uid) {
      last = &*it;
      break;
    }
  }
  return last ? *last->object : json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Success"}};
}

ResourceAnswer TestApiServer::Impl::DeleteCollectionLocked(const ResourceRequest& r) {
  const ResourceType& type = *r.target.type;
  ListSelection selection;
  if (auto bad = SelectLocked(r, &selection)) return ResourceAnswer::Fail(*bad);
  std::vector<std::string> names;
  for (const json* o : selection.items) names.push_back(Name(*o));
  std::string propagation = r.http.Query("propagationPolicy");
  if (r.body.is_object() && r.body.contains("propagationPolicy")) propagation = r.body["propagationPolicy"];
  for (const auto& name : names) {
    json* obj = FindObject(type.Key(), r.target.namespace_name, name);
    if (obj != nullptr) DeleteObjectLocked(type, *obj, propagation);
  }
  RunGarbageCollection();
  return ResourceAnswer::Ok(
      200, json{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Success"}});
}

}  // namespace ringleader::testapi
