#pragma once
// Internal state of TestApiServer, shared by the .cc files of ringleader_testing:
// api_server.cc (routing, CRUD, watch, faults), discovery.cc (discovery + OpenAPI),
// tables.cc (Table responses), builtin_types.cc (built-in kinds), pod_simulator.cc,
// kueue_admitter.cc.
//
// Locking: one mutex `mu_` guards types, objects, history, watchers and the resourceVersion
// counter. Handlers hold it only while touching that state, never while writing to a socket.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/testing/http_server.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/common/split.h"
#include "ringleader/testing/schema.h"
#include "ringleader/testing/selectors.h"
#include "ringleader/testing/test_api_server.h"

namespace ringleader::testapi {

using nlohmann::json;

struct ResourceType {
  std::string group;
  std::string version;
  std::string plural;
  std::string singular;
  std::string kind;
  std::string list_kind;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool has_status = false;  // serves the /status subresource
  bool custom = false;      // served from a CRD
  json schema;              // openAPIV3Schema (custom only)
  json printer_columns = json::array();  // additionalPrinterColumns (custom only)
  std::string crd_name;
  bool active = true;  // false once its CRD is deleted (kept so pointers stay valid)

  std::string Key() const { return group + "/" + plural; }
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  std::string GroupResource() const { return group.empty() ? plural : plural + "." + group; }
};

// A Kubernetes-style error answer.
struct ApiError {
  int code = 500;
  std::string reason;
  std::string message;
  json details;  // may be null
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HistoryEvent {
  uint64_t rv;
  std::string type_key;
  std::string type;  // ADDED MODIFIED DELETED
  std::shared_ptr<const json> object;
  std::shared_ptr<const json> old_object;  // MODIFIED only
};

struct Watcher {
  std::string type_key;
  std::string namespace_name;  // "" = all
  LabelSelector labels;
  FieldSelector fields;
  std::deque<std::string> lines;
  bool closed = false;
  bool abort = false;  // restart: drop the connection without ending the stream
  std::condition_variable cv;
};

// What a request is about, parsed from its path.
struct RequestTarget {
  const ResourceType* type = nullptr;
  std::string namespace_name;
  std::string name;
  std::string subresource;
  std::string verb;
};

// A resource request after routing: what every verb handler reads.
struct ResourceRequest {
  const HttpRequest& http;
  const RequestTarget& target;
  const json& body;         // writes, and deletes that sent one; null otherwise
  bool want_table = false;  // Accept: ...;as=Table (kubectl get)
  bool strict = false;      // fieldValidation=Strict
};

// What a verb handler answers: an error, or a status code and body. Handlers run under mu_;
// the answer is written after it is released.
struct ResourceAnswer {
  int code = 200;
  json body;
  std::optional<ApiError> error;

  static ResourceAnswer Ok(int code, json body) { return {code, std::move(body), std::nullopt}; }
  static ResourceAnswer Fail(ApiError error) {
    int code = error.code;
    return {code, nullptr, std::move(error)};
  }
};

// The objects a list or deletecollection selects (selectors, continue token; limit for lists).
struct ListSelection {
  std::vector<const json*> items;
  std::string next;        // continue token of the next page; "" on the last
  int64_t remaining = 0;   // matches after this page
};

// An open watch stream's settings.
struct WatchStream {
  const ResourceType* type = nullptr;
  std::shared_ptr<Watcher> watcher;
  bool bookmarks = false;
  bool as_table = false;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// Simulator bookkeeping per pod uid (times are steady-clock).
struct SimPodState {
  std::chrono::steady_clock::time_point bound_at{};
  std::chrono::steady_clock::time_point running_at{};
  bool running_by_sim = false;
};

// The simulator's index of pods and nodes (pod_simulator.cc), kept current by Commit so that
// a pass visits only the pods that may need action instead of every pod under the store lock.
struct SimResources {
  int64_t cpu_milli = 0;
  int64_t memory_milli = 0;
  int64_t gpu_milli = 0;
  int64_t pods = 0;
};

// A Node as the scheduler sees it, parsed when the Node is written.
struct SimNode {
  std::string name;
  json labels;
  json taints;
  bool schedulable = true;
  SimResources allocatable;
  const SimResources* used = nullptr;  // into Impl::sim_used_
};

// What the simulator derives from one stored pod, refreshed on each of its writes.
struct SimPod {
  std::string order_key;  // creation order: creationTimestamp, then the store key
  std::string node_name;
  SimResources requests;
  bool holds_capacity = false;  // bound and not Succeeded/Failed: counted in sim_used_[node_name]
  bool unschedulable = false;   // in sim_unschedulable_
  std::optional<std::chrono::steady_clock::time_point> timer;  // in sim_timers_
};

// One visit of the simulator to a pod, shared by its phases.
struct SimVisit {
  const std::string& key;  // the store key
  SimPod& info;
  std::chrono::steady_clock::time_point now;
  const std::string& now_text;
  std::chrono::steady_clock::time_point* next_wake;
};

class TestApiServer::Impl {
 public:
  explicit Impl(TestApiServerOptions options);
  ~Impl();

  Status Start();
  void Stop();

  // --- HTTP entry ---
  void Handle(const HttpRequest& req, HttpResponseWriter& out);
  void HandleUnsafe(const HttpRequest& req, HttpResponseWriter& out);  // may throw json::exception

  // --- registry (mu_ held) ---
  void RegisterBuiltinTypes();
  const ResourceType* FindType(const std::string& group, const std::string& version, const std::string& plural) const;
  const ResourceType* FindTypeByKey(const std::string& key) const;
  Status AddCrdsFromYaml(const std::string& yaml_text);
  // Validates a CRD object; on success fills `type`.
  std::optional<ApiError> CrdToType(const json& crd, ResourceType* type) const;
  void EstablishCrd(json& crd) const;

  // --- store (mu_ held) ---
  json* FindObject(const std::string& type_key, const std::string& ns, const std::string& name);
  json* FindObjectByUid(const std::string& uid);
  // Stores the object with a new resourceVersion and tells watchers. `object` gets the rv.
  void Commit(const ResourceType& type, const std::string& event_type, json& object, const json* old_object);
  void RemoveObject(const ResourceType& type, json& object);  // DELETED event
  // The namespace controller: removes the content of namespaces whose termination is due,
  // then the namespaces (a thread of its own: nothing else may come to trigger it).
  void NamespaceControllerLoop();
  void FinishNamespaceTerminationsLocked();
  // Deletes (or marks for deletion when finalizers remain) one object; GC runs after.
  // `grace_seconds`: the delete's gracePeriodSeconds, when given (pods only).
  void DeleteObjectLocked(const ResourceType& type, json& object, const std::string& propagation,
                          std::optional<int64_t> grace_seconds = std::nullopt);
  // propagationPolicy=Orphan: drops the ownerReferences to `uid` from its dependents.
  void OrphanDependentsLocked(const std::string& uid);
  // Graceful deletion of a bound pod: marks it Terminating and schedules its kubelet's
  // confirmation; false when the grace period is 0 and the pod goes at once.
  bool DeferBoundPodDeletionLocked(const ResourceType& type, json& pod, std::optional<int64_t> grace_seconds);
  // A deleted CRD takes its custom resources, type and watches along.
  void RemoveCustomResourcesLocked(json& crd);
  void RunGarbageCollection();
  // Prunes/defaults/validates (custom), checks (CRD) or defaults/validates (built-in) an
  // object about to be stored; `existing` is null on create. `causes` are earlier findings.
  // `strict` (fieldValidation=Strict) makes unknown fields of custom resources a 400.
  std::optional<ApiError> AdmitObject(const ResourceType& type, json& object, const json* existing,
                                      const std::string& name, std::vector<FieldCause> causes, bool strict);
  std::string NowRfc3339() const;
  std::string NewUid();
  std::string RandomSuffix();

  // --- resource requests (api_routing.cc) ---
  void HandleResource(const HttpRequest& req, HttpResponseWriter& out, RequestRecord& record);
  // The type, namespace, name, subresource and verb of a path; type null when none is served.
  RequestTarget ResolveTarget(const HttpRequest& req) const;
  // 404/405 for targets not served this way, and the injected 429s.
  std::optional<ApiError> RefuseRequest(const RequestTarget& t);
  // Takes mu_ and runs the verb's handler.
  ResourceAnswer AnswerResource(const ResourceRequest& r);

  // --- verb handlers, mu_ held (api_read.cc, api_write.cc, api_delete.cc) ---
  ResourceAnswer GetLocked(const ResourceRequest& r);
  ResourceAnswer ListLocked(const ResourceRequest& r);
  std::optional<ApiError> SelectLocked(const ResourceRequest& r, ListSelection* selection);
  ResourceAnswer CreateLocked(const ResourceRequest& r);
  void RegisterCrdTypeLocked(json& crd);  // a created CRD: its type served, its status set
  ResourceAnswer UpdateLocked(const ResourceRequest& r);  // update and patch
  // The object an update sends or a patch produces.
  std::optional<ApiError> IncomingObject(const ResourceRequest& r, const json& existing, json* incoming) const;
  // 409 for a stale resourceVersion or an injected conflict.
  std::optional<ApiError> StaleWriteLocked(const RequestTarget& t, const json& existing, const json& incoming);
  void RefreshCrdTypeLocked(const json& crd, const std::string& crd_name);
  ResourceAnswer DeleteLocked(const ResourceRequest& r);
  ResourceAnswer DeleteCollectionLocked(const ResourceRequest& r);
  static std::optional<ApiError> FailedPrecondition(const ResourceType& type, const std::string& name,
                                                    const json& stored, const json& body);
  // What DELETE answers once the object is gone.
  json DeletedAnswerLocked(const ResourceType& type, const std::string& name, const std::string& uid) const;

  // --- watch (api_watch.cc) ---
  void HandleWatch(const HttpRequest& req, HttpResponseWriter& out, RequestRecord& record, const RequestTarget& t);
  // Registers the watcher and collects its initial events; returns the ERROR line (410)
  // instead when the watch cannot start.
  std::string OpenWatch(const std::shared_ptr<Watcher>& watcher, uint64_t from_rv, const std::string& rv_param,
                        std::vector<std::string>* initial);
  void StreamWatch(HttpResponseWriter& out, const WatchStream& stream, const std::vector<std::string>& initial);

  // --- test hooks (test_hooks.cc) ---
  void HandleControl(const HttpRequest& req, HttpResponseWriter& out);
  void ApplyFaults(const json& body, HttpResponseWriter& out);
  json RequestLogJson(uint64_t since) const;
  void ClearFaultsLocked();
  // Ends every watch; `abort` drops the connections without ending the streams (a restart).
  void CloseWatchesLocked(bool abort);
  // Fails the pod as the kubelet's eviction does; nullopt when there is no such pod.
  std::optional<json> EvictPodLocked(const std::string& ns, const std::string& name, const std::string& message);

  // --- type-specific hooks (builtin_types.cc) ---
  // Defaults and validates a new object of a built-in kind; may fill causes.
  void PrepareBuiltinCreate(const ResourceType& type, json& object, std::vector<FieldCause>* causes);
  void ValidateBuiltinUpdate(const ResourceType& type, const json& old_object, const json& new_object,
                             std::vector<FieldCause>* causes);
  // Strategic merge patch (approximation: lists of objects merge by their merge key).
  static json StrategicMerge(const json& target, const json& patch, const std::string& field);

  // --- tables.cc ---
  json BuildTable(const ResourceType& type, const std::vector<const json*>& objects, const std::string& rv) const;

  // --- discovery.cc ---
  bool HandleDiscovery(const HttpRequest& req, HttpResponseWriter& out);
  json ApiGroupList() const;
  std::optional<json> ApiResourceList(const std::string& group_version) const;
  json OpenApiV3Index() const;
  std::optional<json> OpenApiV3Document(const std::string& group_version) const;

  // --- simulator (pod_simulator.cc) ---
  void CreateFakeNodes();
  void SimulatorLoop();
  // One pass over pods and nodes; returns when the next timed transition is due.
  std::chrono::steady_clock::time_point SimulatorStepLocked(std::chrono::steady_clock::time_point now);
  void MarkPodFinished(json& pod, bool succeeded, int exit_code, const std::string& reason,
                       const std::string& message);
  Status KillNodeLocked(const std::string& name);
  // The node lifecycle controller's reaction to a node whose kubelet went silent.
  void MarkNodeUnreachableLocked(const std::string& name);
  // Commit calls this for every write of a core pod or node (`key` is the store key).
  void SimObserveLocked(const ResourceType& type, const std::string& event_type, const std::string& key,
                        const json& object);
  void SimObservePodLocked(const std::string& event_type, const std::string& key, const json& pod);
  void SimObserveNodeLocked(const std::string& event_type, const json& node);
  // Acts on one pod of a pass (the body of the former scan over every pod).
  void SimulatePodLocked(const std::string& key, SimPod& info, std::chrono::steady_clock::time_point now,
                         const std::string& now_text, std::chrono::steady_clock::time_point* next_wake);
  // Its phases: the scheduler binds a pending pod (pod_simulator.cc); the kubelet starts a
  // bound one (false while it waits) and ends a running one per its annotations (pod_kubelet.cc).
  void SchedulePodLocked(const SimVisit& visit, const json& pod);
  bool StartPodLocked(const SimVisit& visit, const json& pod);
  void FinishPodLocked(const SimVisit& visit, const json& pod);
  // Wakes the pod's next visit at `due`.
  void SimWaitLocked(const SimVisit& visit, std::chrono::steady_clock::time_point due);

  // --- Kueue admitter (kueue_admitter.cc) ---
  void KueueAdmitterLoop();
  void KueueAdmitterStepLocked();

  // --- helpers ---
  void Reply(HttpResponseWriter& out, RequestRecord& record, int status, const json& body,
             const std::vector<std::pair<std::string, std::string>>& headers = {});
  void ReplyError(HttpResponseWriter& out, RequestRecord& record, const ApiError& error);
  void LogRequest(const RequestRecord& record);

  TestApiServerOptions options_;
  std::unique_ptr<HttpServer> http_;
  std::string kubeconfig_path_;

  mutable std::mutex mu_;
  std::list<ResourceType> types_;  // stable addresses
  std::map<std::string, std::map<std::string, json>> objects_;  // type key -> "ns/name" -> object
  std::map<std::string, std::pair<std::string, std::string>> uid_index_;  // uid -> (type key, "ns/name")
  uint64_t rv_ = 0;
  uint64_t compacted_rv_ = 0;  // watches from an rv below this get 410
  std::deque<HistoryEvent> history_;
  std::list<std::shared_ptr<Watcher>> watchers_;
  uint64_t uid_counter_ = 0;
  uint64_t random_state_ = 0x9e3779b97f4a7c15ULL;
  uint64_t openapi_generation_ = 0;  // bumps when CRDs change (OpenAPI hashes)

  // faults (mu_)
  int expire_next_watches_ = 0;
  std::vector<TooManyRequestsFault> too_many_requests_;
  std::vector<ConflictFault> conflicts_;
  std::atomic<int64_t> response_delay_ms_{0};

  // request log (log_mu_)
  mutable std::mutex log_mu_;
  std::deque<RequestRecord> log_;
  uint64_t log_seq_ = 0;

  // simulator (mu_)
  bool sim_dirty_ = true;
  std::map<std::string, SimPodState> sim_pods_;
  // Graceful deletions of bound pods: uid -> when the node's kubelet confirms them.
  std::map<std::string, std::chrono::steady_clock::time_point> pending_pod_deletions_;
  std::set<std::string> sim_dead_nodes_;  // KillNode: their kubelets confirm and run nothing
  // Dead nodes the node lifecycle controller has not marked yet: name -> when it will.
  std::map<std::string, std::chrono::steady_clock::time_point> sim_unmarked_dead_nodes_;
  // The index (SimObserveLocked). A pass visits, in creation order, the pods written since the
  // last pass, those whose timer (start delay, succeed/fail) is due, and, when a node or the
  // capacity held on one changed, the pods that fit nowhere.
  using SimOrderedPod = std::pair<std::string, std::string>;  // (SimPod::order_key, store key)
  std::map<std::string, SimPod> sim_pod_index_;  // store key -> derived
  std::set<SimOrderedPod> sim_touched_;
  std::set<SimOrderedPod> sim_unschedulable_;
  std::set<std::pair<std::chrono::steady_clock::time_point, std::string>> sim_timers_;  // (due, store key)
  // Node name -> requests of the pods holding capacity there, whether or not the node exists
  // (yet). Never erased, so SimNode::used stays valid.
  std::map<std::string, SimResources> sim_used_;
  std::map<std::string, SimNode> sim_nodes_;   // node name -> parsed
  std::vector<const SimNode*> sim_node_order_;  // first-fit order; rebuilt when sim_nodes_changed_
  bool sim_nodes_changed_ = true;
  bool sim_capacity_changed_ = false;  // retry the pods in sim_unschedulable_
  // Capacity a pod stops holding during a pass is released at its end, as when every pass
  // recounted usage at its start: what a pod frees is for the next pass.
  bool sim_defer_release_ = false;
  std::vector<std::pair<std::string, SimResources>> sim_deferred_release_;
  // Deleted namespaces -> when the namespace controller would have emptied and removed them.
  std::map<std::string, std::chrono::steady_clock::time_point> terminating_namespaces_;
  static constexpr std::chrono::milliseconds kNamespaceTermination{500};
  std::condition_variable sim_cv_;
  std::thread sim_thread_;
  // Kueue admitter (mu_): woken by writes to kueue.x-k8s.io objects.
  bool kueue_dirty_ = true;
  std::condition_variable kueue_cv_;
  std::thread kueue_thread_;
  std::thread namespace_thread_;
  std::condition_variable namespace_cv_;
  bool stopping_ = false;
  bool started_ = false;
  uint64_t pod_ip_counter_ = 0;
};

// Helpers shared across files.
// Request paths and object metadata (object_meta.cc).
std::string ObjKey(const std::string& ns, const std::string& name);  // the store key "ns/name"
std::string StrField(const json& obj, const char* a, const char* b);  // obj.a.b when a string, else ""
std::string Name(const json& obj);
std::string Namespace(const json& obj);
std::string Uid(const json& obj);
bool HasDeletionTimestamp(const json& obj);
std::vector<std::string> Finalizers(const json& obj);
bool IsTrue(const std::string& v);  // a query flag: "true", "1", "True"
std::string HexEncode(const std::string& in);
std::string HexDecode(const std::string& in);
bool ValidDns1123Subdomain(const std::string& name);
// The part of an object whose change bumps metadata.generation.
json SpecPart(const json& obj, bool ignore_status);
// Watch events (api_watch.cc).
bool WatcherMatches(const Watcher& w, const json& obj);
// The watch event type this watcher sees for an event, or "" when it sees nothing.
std::string EventTypeFor(const Watcher& w, const HistoryEvent& ev);
std::string EventLine(const std::string& type, const std::string& object_text);
// Error answers (api_errors.cc).
json DetailsFor(const ResourceType& type, const std::string& name, bool kind_is_plural);
ApiError NotFound(const ResourceType& type, const std::string& name);
ApiError AlreadyExists(const ResourceType& type, const std::string& name);
ApiError ConflictError(const ResourceType& type, const std::string& name, const std::string& why);
ApiError BadRequest(const std::string& message);
ApiError NoSuchResource();    // 404 for a path no type serves
ApiError MethodNotAllowed();  // 405
// Sets (or adds) a pod condition; lastTransitionTime changes only with the status.
void SetPodCondition(json& status, const std::string& type, const std::string& value, const std::string& reason,
                     const std::string& message, const std::string& now);
ApiError InvalidError(const ResourceType& type, const std::string& name, const std::vector<FieldCause>& causes);
json MakeStatus(int code, const std::string& reason, const std::string& message, const json& details = nullptr);
std::string FormatAge(std::chrono::seconds age);
// Parses a Kubernetes quantity into milli-units ("500m" -> 500, "2" -> 2000, "1Gi" -> 1073741824000).
int64_t ParseQuantityMilli(const std::string& text);
// Evaluates a kubectl-style JSONPath (".status.phase", ".spec.items[0].x",
// ".status.conditions[?(@.type==\"Ready\")].status") and returns the matches.
std::vector<json> EvalJsonPath(const json& object, const std::string& path);

}  // namespace ringleader::testapi
