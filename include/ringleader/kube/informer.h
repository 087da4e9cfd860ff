#pragma once
// Informer: lists then watches one resource (optionally one namespace and a label/field
// selector) into a thread-safe cache, and tells handlers about adds, updates and deletes.
//
// - On a watch ERROR 410 (or a 410 answer) it relists and diffs the new list against the
//   cache: objects gone from the list are delivered as deletes (a delete missed while
//   disconnected is never lost), and an object whose uid changed under the same name is
//   delivered as delete(old) then add(new) (a recreate).
// - On EOF / connection reset it rewatches from the last seen resourceVersion (bookmarks
//   advance it) after a jittered exponential backoff (reset when events flow again).
// - Cached objects are shared_ptr<const Json>: never mutate them; copy, then change.
// - Handlers run on the informer's thread, in order; keep them short (enqueue a key).
//
// Indexes: by namespace/name (the key) always; by controller owner uid (kOwnerUidIndex)
// always; custom ones through AddIndex() before Start().
//
// Compact caches (InformerOptions::compact) keep each object MessagePack-encoded and decode
// it on every read: a trimmed pod is ~0.5 KB that way against ~4.4 KB as a json tree (one
// heap node per member), which is most of the operator's memory with 10k pods. Reads then
// cost a decode each, so read a few objects by key or index, not List() in a hot path.
//
// Thread-safety: Cache reads are thread-safe; AddEventHandlers/AddIndex must be called
// before Start().

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "ringleader/kube/client.h"
#include "ringleader/kube/rate_limiter.h"

namespace ringleader::kube {

using ObjectPtr = std::shared_ptr<const Json>;

// Values an object is indexed under (may be empty).
using IndexFunc = std::function<std::vector<std::string>(const Json& object)>;

inline constexpr char kOwnerUidIndex[] = "controller-owner-uid";
inline constexpr char kNamespaceIndex[] = "namespace";

// MakeKey(metadata.namespace, metadata.name).
std::string ObjectKeyOf(const Json& object);
// The uid of the ownerReference with controller=true, or "".
std::string ControllerOwnerUid(const Json& object);

class Cache {
 public:
  explicit Cache(bool compact = false);
  ObjectPtr Get(const std::string& key) const;  // nullptr when absent
  ObjectPtr Get(const std::string& ns, const std::string& name) const;
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> ListNamespace(const std::string& ns) const;
  std::vector<ObjectPtr> ByIndex(const std::string& index_name, const std::string& value) const;
  std::vector<std::string> Keys() const;
  size_t Size() const;
  bool compact() const { return compact_; }

  // Used by the Informer (and by tests that fill a cache by hand).
  void AddIndex(const std::string& name, IndexFunc func);
  // Returns the previous object under the same key (nullptr if none).
  ObjectPtr Upsert(ObjectPtr object);
  ObjectPtr Remove(const std::string& key);
  // Replaces the whole content; returns the previous content.
  std::map<std::string, ObjectPtr> Replace(std::map<std::string, ObjectPtr> objects);

 private:
  // One cached object: the object itself, or (compact) its MessagePack bytes.
  struct Stored {
    ObjectPtr object;
    std::string packed;
  };

 public:
  // A whole content built one object at a time (an informer's list, page by page): each object
  // is stored (for a compact cache, encoded) and its index values computed as it is added, so
  // that the decoded objects of a 10k-pod list need not all be alive at once.
  class Batch {
   public:
    void Add(ObjectPtr object);
    std::vector<std::string> Keys() const;
    ObjectPtr Get(const std::string& key) const;  // decoded on each call; nullptr when absent

   private:
    friend class Cache;
    explicit Batch(const Cache* cache) : cache_(cache) {}
    const Cache* cache_;
    std::map<std::string, Stored> items_;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> index_values_;  // key → (index, value)
  };
  // An empty batch for this cache (its indexes must not change until it is replaced in).
  Batch NewBatch() const { return Batch(this); }
  // Replaces the whole content with `batch`; returns the previous content.
  Batch Replace(Batch batch);

 private:
  Stored Store(ObjectPtr object) const;
  ObjectPtr Load(const Stored& stored) const;
  void IndexLocked(const std::string& key, const Json& object, bool add);
  std::vector<std::pair<std::string, std::string>> IndexValues(const Json& object) const;

  const bool compact_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Stored> items_;
  std::map<std::string, IndexFunc> index_funcs_;
  // index name → value → keys
  std::map<std::string, std::map<std::string, std::set<std::string>>> indexes_;
};

struct EventHandlers {
  std::function<void(const ObjectPtr& object)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  // The last state the cache knew (for a delete seen only in a relist, that may be stale).
  std::function<void(const ObjectPtr& object)> on_delete;
};

// Handlers for a consumer that only mirrors the latest state of each object: add and update
// call `observe` with the new object, delete calls `forget` with the last known one (client-go
// users write the same three closures around a local index).
EventHandlers MirrorHandlers(std::function<void(const Json& object)> observe,
                             std::function<void(const Json& object)> forget);

struct InformerOptions {
  GroupVersionResource gvr;
  std::string ns;  // "" : all namespaces (or cluster-scoped)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  Duration min_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(30);
  // Server-side watch timeout; the informer rewatches after it. 0 = random 5–10 min.
  int64_t watch_timeout_seconds = 0;
  // Applied to every listed or watched object before it is cached (client-go's
  // SetTransform): drop what the handlers never read so that a cache of 10k pods stays small.
  // It must keep metadata.name/namespace/uid/resourceVersion and the ownerReferences.
  std::function<void(Json& object)> transform;
  // What `transform` (or, without one, the handlers) reads: lists and watches decode only
  // that (FieldMask), so the rest is never built. The transform still runs and must not
  // read beyond it. nullptr: decode everything.
  std::shared_ptr<const FieldMask> decode_mask;
  // Keep the cache MessagePack-encoded (see Cache): for large caches read by key or index.
  bool compact = false;
};

class Informer {
 public:
  Informer(Client& client, InformerOptions options);
  ~Informer();  // Stop()s
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  void AddEventHandlers(EventHandlers handlers);
  void AddIndex(const std::string& name, IndexFunc func);

  void Start();  // starts the list/watch thread
  void Stop();   // cancels the watch and joins; idempotent

  // True once the first list has been loaded into the cache and its handlers ran.
  bool HasSynced() const;
  bool WaitForSync(Clock::time_point deadline) const;

  const Cache& cache() const { return cache_; }
  const InformerOptions& options() const { return options_; }
  // resourceVersion the next watch starts from.
  std::string LastResourceVersion() const;
  // Number of full lists done (1 after the initial sync; +1 per relist). For tests/metrics.
  int ListCount() const { return list_count_.load(); }

 private:
  void Run(std::stop_token stop);
  Status ListAndReplace();
  // Returns OK on a clean end (rewatch), kGone (relist), other errors (backoff, rewatch).
  Status WatchOnce(std::stop_token stop, bool* saw_event);
  void HandleEvent(WatchEvent&& event);
  // Applies options_.transform. One that throws (a bug, or server JSON it did not expect)
  // must end neither the informer's thread (a crash loop on every restart's list) nor its
  // watch: the object is left out, with an error logged. False when it threw.
  bool Transformed(Json& object) const;
  bool SleepFor(std::stop_token& stop, Duration d);

  Client& client_;
  InformerOptions options_;
  Cache cache_;
  std::vector<EventHandlers> handlers_;
  mutable std::mutex mu_;
  mutable std::condition_variable synced_cv_;
  bool synced_ = false;
  std::string last_rv_;
  std::atomic<int> list_count_{0};
  std::jthread thread_;
};

}  // namespace ringleader::kube
