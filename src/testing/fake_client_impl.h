#pragma once
// FakeClient's private parts shared by its sources: the store (Impl: objects, history,
// watches, injected errors, the action log) and the helpers it uses. fake_client.cc holds the
// CRUD calls, fake_client_watch.cc the watches and the test controls.

#include <chrono>
#include <condition_variable>
#include <set>

#include "ringleader/common/rfc3339.h"
#include "ringleader/testing/fake_client.h"
#include "ringleader/testing/selectors.h"

namespace ringleader::kube::fake_detail {

std::string NowRfc3339();
// False for the resources the real server serves without a /status subresource.
bool HasStatusSubresource(const GroupVersionResource& gvr);
// A list's or watch's scope: namespace, labelSelector and fieldSelector, parsed once by the
// same parser the test API server uses (so the fake rejects what the server rejects).
struct Selectors {
  testapi::LabelSelector labels;
  testapi::FieldSelector fields;
  static StatusOr<Selectors> Parse(const std::string& label_selector,
                                   const std::string& field_selector);
  // `ns` empty: every namespace.
  bool Matches(const Json& object, const std::string& ns) const;
};
// What the real server's answer becomes on the client: nothing, when the caller asked for the
// outcome only (so tests catch a caller that reads an answer it did not ask for).
StatusOr<Json> Answered(StatusOr<Json> result, Answer answer);

}  // namespace ringleader::kube::fake_detail

namespace ringleader::kube {

using fake_detail::Answered;
using fake_detail::HasStatusSubresource;
using fake_detail::Selectors;
using fake_detail::NowRfc3339;

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

  static StatusOr<Json> Error(int code, const std::string& reason, const std::string& message,
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

  static StatusOr<Json> Injected(const ApiStatus& api, const std::string& verb,
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

  StatusOr<Json> WriteLocked(const GroupVersionResource& gvr, const std::string& ns,
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
};


}  // namespace ringleader::kube
