#pragma once
// The Kubernetes API client interface. Objects travel as nlohmann::json, exactly as the API
// server sends them, for any group/version/resource, namespaced or cluster-scoped.
//
// Implementations: HttpClient (http_client.h, libcurl) and FakeClient (fake_client.h,
// in-memory, for controller tests).
//
// Thread-safety: every method may be called concurrently from many threads.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>

#include "ringleader/common/status.h"
#include "ringleader/kube/api_error.h"
#include "ringleader/kube/field_mask.h"
#include "ringleader/kube/resource.h"

namespace ringleader::kube {

using Json = nlohmann::json;

struct ListOptions {
  std::string label_selector;   // "app=x,tier in (a,b)"
  std::string field_selector;   // "metadata.name=x"
  int64_t limit = 0;            // 0: no paging
  std::string continue_token;   // from a previous page's metadata.continue
  std::string resource_version;       // "" : most recent (quorum read)
  std::string resource_version_match; // "NotOlderThan" / "Exact" / ""
  // What the caller reads of each item: an implementation may drop the rest while decoding
  // (HttpClient does; metadata.resourceVersion is always kept). nullptr: everything.
  std::shared_ptr<const FieldMask> item_mask;
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
};
const char* PatchContentType(PatchType type);

// What a write returns on success. The API server always answers with the object; decoding it
// is a third of a pod create's client CPU, and most writers (the reconciler's creates, patches
// and status writes, the event recorder) only need to know whether the write worked.
enum class Answer {
  kObject,       // the server's object
  kOutcomeOnly,  // a null Json: the answer is not decoded (errors are decoded as always)
};

struct DeleteOptions {
  std::optional<std::string> propagation_policy;  // "Foreground", "Background", "Orphan"
  std::optional<int64_t> grace_period_seconds;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;       // start after this version; "" = from "now"-ish
  bool allow_bookmarks = true;
  int64_t timeout_seconds = 0;        // server-side timeoutSeconds; 0 = server default
  // As ListOptions::item_mask, for each event's object (an ERROR event's Status is kept).
  std::shared_ptr<const FieldMask> object_mask;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
const char* WatchEventTypeName(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  Json object;  // the object; for kError a meta/v1 Status
};

// Called for every event, on the watching thread. Return false to end the watch (Watch then
// returns OK).
using WatchHandler = std::function<bool(WatchEvent&& event)>;

// Bounds the requests made by this thread while it is alive, like a Go context deadline:
// an HttpClient call started in its scope returns kDeadlineExceeded instead of running past
// `deadline` (each transfer's timeout is cut to the time left; no retry wait or rate-limiter
// wait runs past it). Nested scopes keep the earliest deadline. Watches ignore it. For callers
// whose answer is worthless after some instant: the leader renewing its lease. FakeClient
// ignores it.
class ScopedRequestDeadline {
 public:
  explicit ScopedRequestDeadline(std::chrono::steady_clock::time_point deadline);
  ~ScopedRequestDeadline();
  ScopedRequestDeadline(const ScopedRequestDeadline&) = delete;
  ScopedRequestDeadline& operator=(const ScopedRequestDeadline&) = delete;

  // The deadline in force on the calling thread, if any.
  static std::optional<std::chrono::steady_clock::time_point> Current();

 private:
  std::optional<std::chrono::steady_clock::time_point> previous_;
};

class Client {
 public:
  virtual ~Client() = default;

  virtual StatusOr<Json> Get(const GroupVersionResource& gvr, const std::string& ns,
                              const std::string& name) = 0;
  // One page; the returned List carries metadata.resourceVersion and metadata.continue.
  virtual StatusOr<Json> List(const GroupVersionResource& gvr, const std::string& ns,
                               const ListOptions& options = {}) = 0;
  // `ns` is taken from the argument (an object's metadata.namespace is not consulted for the
  // URL); the server fills in the rest.
  virtual StatusOr<Json> Create(const GroupVersionResource& gvr, const std::string& ns,
                                 const Json& object, Answer answer = Answer::kObject) = 0;
  // PUT of the whole object; metadata.resourceVersion in `object` gives optimistic
  // concurrency (409 kConflict when stale).
  virtual StatusOr<Json> Update(const GroupVersionResource& gvr, const std::string& ns,
                                 const Json& object) = 0;
  // PUT to the /status subresource.
  virtual StatusOr<Json> UpdateStatus(const GroupVersionResource& gvr, const std::string& ns,
                                       const Json& object, Answer answer = Answer::kObject) = 0;
  // `subresource` is "" or "status".
  virtual StatusOr<Json> Patch(const GroupVersionResource& gvr, const std::string& ns,
                                const std::string& name, PatchType type, const Json& patch,
                                const std::string& subresource = "", Answer answer = Answer::kObject) = 0;
  // Returns the server's answer body (the object, or a Status for some resources).
  virtual StatusOr<Json> Delete(const GroupVersionResource& gvr, const std::string& ns,
                                 const std::string& name, const DeleteOptions& options = {}) = 0;

  // Streams events to `handler` until the server closes the stream (returns OK), the handler
  // returns false (OK), `stop` is requested (OK, promptly, even while blocked on the network),
  // an ERROR event arrives (the handler sees it first; then returns kGone for a 410 Status,
  // otherwise the mapped code), or the connection fails (kUnavailable, or the HTTP error).
  // Reconnecting is the caller's business (the Informer does it).
  virtual Status Watch(const GroupVersionResource& gvr, const std::string& ns,
                       const WatchOptions& options, const WatchHandler& handler,
                       std::stop_token stop = {}) = 0;

  // Follows metadata.continue until the last page and returns one List with all items and
  // the first page's metadata.resourceVersion. options.limit is the page size (0 = 500).
  // A 410 on a continue token (the snapshot expired) restarts the listing once from scratch.
  StatusOr<Json> ListAll(const GroupVersionResource& gvr, const std::string& ns,
                          ListOptions options = {});
  // ListAll without holding every page: `on_items` gets each page's items array as it arrives
  // (it may move from them); `on_restart` is called when a 410 restarts the listing (drop what
  // on_items was given). Returns the List without items (its metadata.resourceVersion).
  StatusOr<Json> ListPaged(const GroupVersionResource& gvr, const std::string& ns, ListOptions options,
                            const std::function<void(Json& items)>& on_items,
                            const std::function<void()>& on_restart);
};

}  // namespace ringleader::kube
