#pragma once
// TestApiServer: an in-memory Kubernetes API server for tests and benchmarks, served over
// plain HTTP on 127.0.0.1, or HTTPS with a bearer token (tls_cert_file, tls_key_file, token:
// the way an operator talks to a real cluster). It behaves like a real kube-apiserver where Ringleader (and real
// kubectl) depend on it: discovery, OpenAPI v2/v3, CRD registration with structural-schema
// validation/pruning/defaulting and printer columns, resourceVersion/generation semantics,
// optimistic concurrency, /status subresources, label/field selectors, pagination, watch
// with history, bookmarks and 410 Expired, ownerReference garbage collection, finalizers.
// An optional pod lifecycle simulator (like kwok) binds pods to fake nodes and runs them.
//
// Fault injection (the same hooks are reachable over HTTP at POST /testing/faults, see
// docs/testing.md) lets tests exercise a client's error handling.
//
// Thread-safety: every public method may be called from any thread once Start() returned.
// Start/Stop must not race each other.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ringleader/common/status.h"

namespace ringleader::testapi {

struct TestApiServerOptions {
  std::string listen_host = "127.0.0.1";
  int port = 0;  // 0 picks a free port
  // Written by Start() when not empty: a kubeconfig pointing at this server (with TLS: an
  // https:// URL and the certificate as certificate-authority-data; the token below).
  std::string kubeconfig_out;
  // HTTPS (--tls-cert, --tls-key): PEM certificate and private key files, both or neither.
  // The kubeconfig trusts exactly this certificate, so it should be self-signed (its own CA)
  // and name the listen address in its subjectAltName (IP:127.0.0.1).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Not empty (--token): every request, /testing/ endpoints included, must carry
  // "Authorization: Bearer <token>"; others get 401 with an Unauthorized Status, as from
  // kube-apiserver. Empty: any or no token is accepted.
  std::string token;
  // YAML files (multi-document allowed) of CustomResourceDefinitions registered at start.
  std::vector<std::string> crd_files;

  // Pod lifecycle simulator.
  bool simulate_pods = false;
  // schedulerName values the simulator schedules besides "default-scheduler".
  std::vector<std::string> simulate_schedulers;
  // Fake nodes node-0..node-(nodes-1), Ready, with these allocatable resources.
  int nodes = 0;
  int node_gpus = 0;
  std::string node_cpus = "8";
  std::string node_memory = "64Gi";
  // Delay between a pod being bound and it turning Running.
  std::chrono::milliseconds pod_start_delay{50};
  // Deleting a pod bound to a node (simulator only) works as on a real cluster: the pod turns
  // Terminating (deletionTimestamp = now + its grace period) and goes only once that node's
  // simulated kubelet confirms the container stopped, after this long (never more than the
  // pod's grace period: gracePeriodSeconds of the delete, else the pod's
  // terminationGracePeriodSeconds, else 30). A kubelet of a node killed with KillNode never
  // confirms. Unbound pods, and deletes with gracePeriodSeconds 0 (force), go at once.
  std::chrono::milliseconds pod_stop_delay{100};
  // How long after KillNode the node lifecycle controller gives up on the node's kubelet
  // (kube-controller-manager's --node-monitor-grace-period, 40 s by default there too) and marks
  // it: until then the dead node looks Ready, its pods look Running and Ready, and the scheduler
  // may still bind new pods to it (they never start). Tests that do not study that window set
  // it short.
  std::chrono::milliseconds node_monitor_grace_period{40000};
  // A stand-in for Kueue's scheduler (src/testing/kueue_admitter.cc): admits, and preempts
  // within, kueue.x-k8s.io/v1beta2 Workloads against ClusterQueue quotas once Kueue's CRDs are
  // registered (tests/e2e/data/kueue-crds.yaml).
  bool simulate_kueue = false;

  // Watch events kept for resuming watches; a watch from an older resourceVersion gets an
  // ERROR event with a 410 Expired Status.
  size_t watch_history = 10000;
  // How often a watch with allowWatchBookmarks=true gets a BOOKMARK event.
  std::chrono::milliseconds bookmark_interval{1000};
  // false: behave like Kubernetes < 1.27 (no PodSchedulingReadiness), whose API server prunes
  // spec.schedulingGates from pods it stores.
  bool scheduling_gates = true;
};

// 429 TooManyRequests with Retry-After for the next `count` requests matching verb and
// resource ("" matches any). verb is a Kubernetes verb: get list watch create update patch
// delete deletecollection. resource is the plural, e.g. "pods", "trainingjobs".
struct TooManyRequestsFault {
  int count = 1;
  int retry_after_seconds = 1;
  std::string verb;
  std::string resource;
};

// 409 Conflict for the next `count` update/patch requests matching resource ("" any) and
// subresource ("" any, "status" only /status writes, "main" only main-resource writes).
struct ConflictFault {
  int count = 1;
  std::string resource;
  std::string subresource;
};

struct RequestRecord {
  uint64_t seq = 0;
  std::string method;       // GET, POST, ...
  std::string verb;         // get list watch create update patch delete deletecollection; "" otherwise
  std::string path;
  std::string query;
  std::string resource;     // plural, e.g. "pods"
  std::string subresource;  // e.g. "status"
  std::string namespace_name;
  std::string name;
  std::string content_type;
  int status = 0;
};

class TestApiServer {
 public:
  explicit TestApiServer(TestApiServerOptions options);
  ~TestApiServer();
  TestApiServer(const TestApiServer&) = delete;
  TestApiServer& operator=(const TestApiServer&) = delete;

  // Registers --crd files, creates namespaces/nodes, starts listening and the simulator,
  // writes the kubeconfig when asked.
  Status Start();
  // Ends every watch and connection and stops. Idempotent.
  void Stop();

  int port() const;
  std::string url() const;  // http://127.0.0.1:PORT (https:// with TLS)
  const std::string& kubeconfig_path() const;
  Status WriteKubeconfig(const std::string& path) const;

  // CRDs from YAML text (possibly several documents), as --crd does.
  Status AddCrdsFromYaml(const std::string& yaml_text);

  // --- faults ---
  void DropAllWatches();                 // every open watch ends now (clean end of stream)
  void ExpireNextWatches(int count = 1); // the next watches get ERROR 410 Expired at once
  void FailNextRequests(const TooManyRequestsFault& fault);
  void ConflictNextUpdates(const ConflictFault& fault);
  void SetResponseDelay(std::chrono::milliseconds delay);
  // Closes every connection and watch abruptly, keeps all data (an apiserver restart).
  void Restart();
  void ClearFaults();
  // The node's kubelet dies (a crashed or partitioned node): it stops confirming deletions and
  // running or ending pods at once. The node lifecycle controller's part follows after
  // node_monitor_grace_period (on the simulator's thread; at once without --simulate-pods):
  // the node's Ready condition turns Unknown, it gets the node.kubernetes.io/unreachable taints
  // (NoSchedule, NoExecute) and its pods' Ready conditions turn False. NotFound if no such node.
  Status KillNode(const std::string& name);
  // Marks a pod Failed with reason Evicted (as a kubelet eviction would).
  Status EvictPod(const std::string& namespace_name, const std::string& name,
                  const std::string& message = "The node was low on resource: memory.");

  // --- observation ---
  std::vector<RequestRecord> Requests() const;
  // Requests matching verb and resource ("" matches any), subresource ("" main only, "*" any).
  int CountRequests(const std::string& verb, const std::string& resource,
                    const std::string& subresource = "*") const;
  void ClearRequests();
  uint64_t current_resource_version() const;
  // The stored object as JSON text, or NotFound. group "" is core; resource is the plural.
  StatusOr<std::string> GetObjectJson(const std::string& group, const std::string& resource,
                                      const std::string& namespace_name, const std::string& name) const;
  // Number of stored objects of a resource (all namespaces).
  size_t CountObjects(const std::string& group, const std::string& resource) const;
  size_t open_watches() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringleader::testapi
