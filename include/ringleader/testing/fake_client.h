#pragma once
// FakeClient: an in-memory Client for unit tests of controllers and of the engine. It keeps
// objects per resource, assigns uid / resourceVersion / generation / creationTimestamp like
// the API server, enforces optimistic concurrency (409 Conflict on a stale
// resourceVersion), AlreadyExists and NotFound, separates the /status subresource (spec
// writes bump generation and ignore status; status writes change only status), supports
// merge / JSON / strategic(=merge) patches, label selectors (=, ==, !=, exists, !exists, in,
// notin), field selectors (dotted path equality), limit/continue paging, and watches with a
// 410 for a resourceVersion older than the kept history (no bookmarks). Deleting an object
// deletes its dependents at once (ownerReference uid) unless propagationPolicy=Orphan;
// objects with finalizers get a deletionTimestamp and go when the last finalizer is removed.
// It records every call so tests can assert on the API calls made, and can inject errors and
// drop watches.
//
// Thread-safety: all methods are thread-safe.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ringleader/kube/client.h"

namespace ringleader::kube {

struct FakeAction {
  std::string verb;      // get list create update patch delete watch
  std::string resource;  // gvr.ToString()
  std::string ns;
  std::string name;
  std::string subresource;
  Json body;  // create/update: the object; patch: the patch
};

class FakeClient final : public Client {
 public:
  FakeClient();
  ~FakeClient() override;

  StatusOr<Json> Get(const GroupVersionResource& gvr, const std::string& ns,
                      const std::string& name) override;
  StatusOr<Json> List(const GroupVersionResource& gvr, const std::string& ns,
                       const ListOptions& options = {}) override;
  StatusOr<Json> Create(const GroupVersionResource& gvr, const std::string& ns,
                         const Json& object, Answer answer = Answer::kObject) override;
  StatusOr<Json> Update(const GroupVersionResource& gvr, const std::string& ns,
                         const Json& object) override;
  StatusOr<Json> UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                               const Json& object, Answer answer = Answer::kObject) override;
  StatusOr<Json> Patch(const GroupVersionResource& gvr, const std::string& ns,
                        const std::string& name, PatchType type, const Json& patch,
                        const std::string& subresource = "", Answer answer = Answer::kObject) override;
  StatusOr<Json> Delete(const GroupVersionResource& gvr, const std::string& ns,
                         const std::string& name, const DeleteOptions& options = {}) override;
  Status Watch(const GroupVersionResource& gvr, const std::string& ns,
               const WatchOptions& options, const WatchHandler& handler,
               std::stop_token stop = {}) override;

  // --- test controls ---
  // Calls so far, in order.
  std::vector<FakeAction> Actions() const;
  // Actions with the given verb (and resource, when not empty).
  std::vector<FakeAction> ActionsFor(const std::string& verb, const std::string& resource = "") const;
  void ClearActions();

  // The next `times` calls matching verb (and resource if not "") fail with `error`
  // (an ApiStatus with http_code; the Status code comes from MapHttpStatus).
  void InjectError(const std::string& verb, const std::string& resource, ApiStatus error,
                   int times = 1);
  // Ends every open watch (their Watch() calls return OK, like a server-side close).
  void CloseWatches();
  // The next watch on `resource` gets an ERROR 410 event right away.
  void ExpireNextWatch(const std::string& resource);
  // Forgets event history older than the current resourceVersion: watches from older
  // versions get 410 (simulates etcd compaction).
  void Compact();
  // Puts an object in place without recording an action or checks (fixtures).
  void Seed(const GroupVersionResource& gvr, Json object);
  // Number of watches currently open.
  int OpenWatches() const;
  // Blocks until at least `n` watches are open or the deadline passes.
  bool WaitForWatches(int n, std::chrono::steady_clock::time_point deadline) const;
  int64_t CurrentResourceVersion() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringleader::kube
