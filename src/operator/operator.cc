#include "ringleader/operator/operator.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "ringleader/api/trainingjob.h"
#include "ringleader/common/json_fields.h"
#include "ringleader/common/metrics.h"
#include "ringleader/operator/health_server.h"
#include "ringleader/policy/labels.h"
#include "ringleader/controller/trainingjob_controller.h"
#include "ringleader/controller/trainingjob_reconciler.h"
#include "ringleader/kube/config.h"
#include "ringleader/kube/controller.h"
#include "ringleader/kube/event_recorder.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/kube/informer.h"
#include "ringleader/kube/leader_election.h"

namespace ringleader::controller {

using kube::Json;
using kube::ObjectPtr;

namespace {

std::string Identity() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod) {
    std::random_device rd;  // a restarted container of the same pod must not reuse a lease record
    std::ostringstream out;
    out << pod << "_" << std::hex << rd();
    return out.str();
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  std::ostringstream out;
  out << host << "_" << std::hex << rd();
  return out.str();
}

std::string LeaseNamespace(const OperatorOptions& options, const kube::RestConfig& config) {
  if (!options.leader_election_namespace.empty()) return options.leader_election_namespace;
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns != nullptr && *ns) return ns;
  if (!config.default_namespace.empty()) return config.default_namespace;
  return "default";
}

// Everything that exists only while this replica leads.
class LeaderWork {
 public:
  LeaderWork(kube::Client& client, const OperatorOptions& options, metrics::Registry& registry)
      : client_(client), options_(options), registry_(registry) {}

  void Start() {
    std::vector<std::string> namespaces = options_.namespaces;
    if (namespaces.empty()) namespaces.push_back("");

    ReconcilerCaches caches;
    // The capacity check needs nodes; a ClusterRole without them degrades, it does not loop.
    kube::ListOptions probe;
    probe.limit = 1;
    auto nodes = client_.List(kube::NodesResource(), "", probe);
    if (!nodes.ok() && nodes.code() == StatusCode::kPermissionDenied) {
      caches.nodes_unavailable_reason = "the operator may not list nodes (" + kube::ApiStatusOf(nodes).message + ")";
      spdlog::warn("Builtin gang admission will not check capacity: {}", caches.nodes_unavailable_reason);
    } else {
      node_informer_ = std::make_unique<kube::Informer>(client_, NodeInformerOptions());
      caches.nodes = &node_informer_->cache();
    }

    for (const std::string& ns : namespaces) {
      job_informers_.push_back(std::make_unique<kube::Informer>(client_, JobInformerOptions(ns)));
      pod_informers_.push_back(std::make_unique<kube::Informer>(client_, PodInformerOptions(ns)));
      service_informers_.push_back(std::make_unique<kube::Informer>(client_, ServiceInformerOptions(ns)));
      caches.jobs.push_back(&job_informers_.back()->cache());
      caches.pods.push_back(&pod_informers_.back()->cache());
      caches.services.push_back(&service_informers_.back()->cache());
    }

    // Kueue: looks whether its Workload API is served; Workload informers when it is.
    KueueAdapterOptions kueue_options;
    kueue_options.namespaces = options_.namespaces;
    kueue_ = std::make_unique<KueueAdapter>(client_, kueue_options);
    caches.kueue = kueue_.get();

    events_ = std::make_unique<kube::EventRecorder>(client_, kube::EventRecorderOptions{});
    ReconcilerOptions reconciler_options;
    reconciler_options.state.restart_backoff_base = options_.restart_backoff;
    reconciler_options.state.restart_backoff_cap = options_.restart_backoff_cap;
    reconciler_options.state.admission_retry = options_.admission_retry;
    reconciler_options.state.stuck_pod_margin = options_.stuck_pod_margin;
    reconciler_options.backfill_window = options_.backfill_window;
    reconciler_options.registry = &registry_;
    reconciler_ = std::make_unique<TrainingJobReconciler>(client_, caches, events_.get(), reconciler_options);
    kube::ControllerOptions controller_options;
    controller_options.name = "trainingjob";
    controller_options.workers = options_.workers;
    controller_options.registry = &registry_;
    controller_options.owned_event_batch = options_.pod_event_batch;
    controller_ = std::make_unique<kube::Controller>(*reconciler_, std::move(controller_options));

    TrainingJobInformers informers;
    informers.nodes = node_informer_.get();
    for (auto* list : {&job_informers_, &pod_informers_, &service_informers_}) {
      auto& into = list == &job_informers_ ? informers.jobs : list == &pod_informers_ ? informers.pods : informers.services;
      for (auto& informer : *list) into.push_back(informer.get());
    }
    reconciler_->Register(*controller_, informers);
    kueue_->Start();

    if (node_informer_) node_informer_->Start();
    for (auto* list : {&job_informers_, &pod_informers_, &service_informers_}) {
      for (auto& informer : *list) informer->Start();
    }
    // Wait for the caches on a separate thread: the leader-election callback must return.
    starter_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        if (AllSynced()) {
          controller_->Start();
          started_ = true;
          spdlog::info("caches synced; {} reconcile workers started", options_.workers);
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }

  bool AllSynced() const {
    if (node_informer_ && !node_informer_->HasSynced()) return false;
    if (kueue_ && !kueue_->HasSynced()) return false;
    for (auto* list : {&job_informers_, &pod_informers_, &service_informers_}) {
      for (auto& informer : *list) {
        if (!informer->HasSynced()) return false;
      }
    }
    return true;
  }
  bool Started() const { return started_.load(); }

  std::map<std::string, int> CountPhases() const {
    std::map<std::string, int> counts;
    for (const std::string& phase : api::JobPhaseNames()) counts[phase] = 0;
    for (auto& informer : job_informers_) {
      for (const ObjectPtr& job : informer->cache().List()) {
        std::string phase = job->contains("status") && (*job)["status"].is_object()
                                ? (*job)["status"].value("phase", "Pending")
                                : "Pending";
        counts[phase] += 1;
      }
    }
    return counts;
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    starter_.request_stop();
    if (starter_.joinable()) starter_.join();
    if (controller_) controller_->Stop();
    for (auto* list : {&job_informers_, &pod_informers_, &service_informers_}) {
      for (auto& informer : *list) informer->Stop();
    }
    if (node_informer_) node_informer_->Stop();
    if (kueue_) kueue_->Stop();
    if (events_) {
      events_->Flush(kube::Clock::now() + std::chrono::seconds(2));
      events_->Stop();
    }
  }

 private:
  kube::Client& client_;
  const OperatorOptions& options_;
  metrics::Registry& registry_;
  std::unique_ptr<kube::Informer> node_informer_;
  std::vector<std::unique_ptr<kube::Informer>> job_informers_, pod_informers_, service_informers_;
  std::unique_ptr<kube::EventRecorder> events_;
  std::unique_ptr<KueueAdapter> kueue_;
  std::unique_ptr<TrainingJobReconciler> reconciler_;
  std::unique_ptr<kube::Controller> controller_;
  std::jthread starter_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

// /metrics, /healthz and /readyz. Liveness: the gauge loop ticks every second and reads the
// caches; if it has not ticked for 30 s the process is wedged (a deadlock, a stuck cache lock)
// and a restart is the cure.
StatusOr<std::unique_ptr<HealthServer>> StartHealthServer(const std::string& address, metrics::Registry& registry,
                                                          const std::atomic<int64_t>& heartbeat,
                                                          const std::atomic<bool>& leading, const LeaderWork& work) {
  HealthProbes probes;
  probes.healthy = [&](std::string* detail) {
    auto age = std::chrono::steady_clock::now().time_since_epoch() - std::chrono::nanoseconds(heartbeat.load());
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(age).count();
    *detail = "last heartbeat " + std::to_string(seconds) + "s ago";
    return age < std::chrono::seconds(30);
  };
  probes.ready = [&](std::string* detail) {
    if (!leading.load()) {
      *detail = "standby (not the leader)";
      return true;
    }
    if (work.Started()) {
      *detail = "leader, caches synced";
      return true;
    }
    *detail = "leader, caches not synced yet";
    return false;
  };
  return HealthServer::Start(address, registry, std::move(probes));
}

// Runs leader election until `stop` or the Lease is lost; LeaderWork runs while this replica
// leads. Returns the process's exit code.
int LeadWhileElected(const OperatorOptions& options, const kube::RestConfig& config, kube::Client& client,
                     LeaderWork& work, std::atomic<bool>& leading, std::stop_token stop) {
  int exit_code = 0;
  kube::LeaderElectionConfig le;
  le.lease_namespace = LeaseNamespace(options, config);
  le.lease_name = options.leader_election_id;
  le.identity = Identity();
  le.on_started_leading = [&] {
    spdlog::info("became the leader (lease {}/{}, identity {})", le.lease_namespace, le.lease_name, le.identity);
    leading = true;
    work.Start();
  };
  le.on_stopped_leading = [&] {
    leading = false;
    spdlog::warn("stopped leading");
  };
  le.on_new_leader = [](const std::string& holder) { spdlog::info("the leader is now {}", holder); };
  spdlog::info("waiting to lead: lease {}/{} as {}", le.lease_namespace, le.lease_name, le.identity);
  auto elector = std::make_unique<kube::LeaderElector>(client, le);
  // Stop the controllers before the Lease is released, so two leaders never write at once.
  std::stop_source elector_stop;
  std::stop_callback forward(stop, [&] {
    spdlog::info("stopping: finishing in-flight reconciles, then releasing the lease");
    work.Stop();
    elector_stop.request_stop();
  });
  Status result = elector->Run(elector_stop.get_token());
  if (result.code() == StatusCode::kInvalidArgument) {
    spdlog::error("leader election cannot start: {}", result.message());
    exit_code = 2;
  } else if (!result.ok() && !stop.stop_requested()) {
    spdlog::error("leadership lost ({}): exiting so that only the new leader writes", result.message());
    exit_code = 1;
  } else if (!result.ok()) {
    spdlog::error("leader election: {}", result.message());
  }
  return exit_code;
}

}  // namespace

int RunOperator(const OperatorOptions& options, std::stop_token stop) {
  kube::KubeconfigOptions kubeconfig;
  kubeconfig.path = options.kubeconfig;
  kubeconfig.context = options.context;
  auto config = kube::LoadDefaultConfig(kubeconfig);
  if (!config.ok()) {
    spdlog::error("cannot load the Kubernetes client configuration: {}", config.status().message());
    return 2;
  }
  config->qps = options.qps;
  config->burst = options.burst;
  config->user_agent = "ringleader-operator";
  metrics::Registry& registry = metrics::Registry::Default();
  kube::HttpClientOptions client_options;
  client_options.registry = &registry;
  auto client = kube::HttpClient::Create(*config, client_options);
  if (!client.ok()) {
    spdlog::error("cannot create the Kubernetes client: {}", client.status().message());
    return 2;
  }
  spdlog::info("ringleader-operator starting: server={} namespaces={} workers={} leader-elect={}",
               config->server, options.namespaces.empty() ? std::string("all") : [&] {
                 std::string s;
                 for (const auto& ns : options.namespaces) s += (s.empty() ? "" : ",") + ns;
                 return s;
               }(),
               options.workers, options.leader_elect);

  LeaderWork work(**client, options, registry);
  std::atomic<bool> leading{!options.leader_elect};

  auto& is_leader = registry.AddGauge("ringleader_is_leader", "1 while this replica holds the Lease.").Get();
  auto& jobs_gauge = registry.AddGauge("ringleader_trainingjobs", "TrainingJobs by phase, as cached.", {"phase"});

  std::atomic<int64_t> heartbeat{std::chrono::steady_clock::now().time_since_epoch().count()};
  std::unique_ptr<HealthServer> health;
  if (!options.metrics_addr.empty()) {
    auto server = StartHealthServer(options.metrics_addr, registry, heartbeat, leading, work);
    if (!server.ok()) {
      spdlog::error("{}", server.status().message());
      return 2;
    }
    health = std::move(*server);
    spdlog::info("serving /metrics, /healthz, /readyz on {}", options.metrics_addr);
  }

  // Phase gauges are computed from the cache every second rather than on each reconcile, so
  // a job deleted between reconciles still leaves the count.
  std::jthread gauges([&](std::stop_token gauges_stop) {
    while (!gauges_stop.stop_requested()) {
      is_leader.Set(leading.load() ? 1 : 0);
      if (work.Started()) {
        for (const auto& [phase, count] : work.CountPhases()) jobs_gauge.WithLabels({phase}).Set(count);
      }
      heartbeat = std::chrono::steady_clock::now().time_since_epoch().count();
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      cv.wait_for(lock, gauges_stop, std::chrono::seconds(1), [] { return false; });
    }
  });

  int exit_code = 0;
  if (!options.leader_elect) {
    work.Start();
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    cv.wait(lock, stop, [] { return false; });
    spdlog::info("stopping: finishing in-flight reconciles");
  } else {
    exit_code = LeadWhileElected(options, *config, **client, work, leading, stop);
  }
  gauges.request_stop();
  work.Stop();
  if (health) health->Stop();
  spdlog::info("ringleader-operator stopped");
  return exit_code;
}

}  // namespace ringleader::controller
