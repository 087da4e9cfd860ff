#include "creation_cases.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include <unistd.h>

#include "ringleader/api/codec.h"
#include "ringleader/api/resources.h"
#include "ringleader/api/validation.h"
#include "ringleader/common/rfc3339.h"
#include "ringleader/controller/cache_fields.h"
#include "ringleader/kube/event_recorder.h"
#include "ringleader/kube/informer.h"
#include "ringleader/kube/resource.h"
#include "ringleader/policy/desired_state.h"
#include "ringleader/policy/labels.h"
#include "workload.h"

namespace ringleader::bench {

using kube::Json;

Measurement RunGang(const Options& options, const std::string& scheduler, bool default_flags) {
  Cluster cluster(options, "gang-" + scheduler + (default_flags ? "-default-flags" : ""));
  cluster.StartServer(options.gang, options.simulate_pods);
  cluster.StartOperator(default_flags);
  std::string name = "gang";
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), std::string(controller::kJobNameLabel) + "=" + name)) {
    Die("cannot watch pods");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let start-up work settle
  Json job = TrainingJobObject(name, options.gang, scheduler);
  Measurement m;
  m.pods = options.gang;
  cluster.ClearRequestLog();
  CpuMeter cpu(options, "gang-" + scheduler, cluster.server_pid(), cluster.operator_pid());
  auto start = SteadyClock::now();
  cluster.CreateJob(job);
  WaitForPods(watch, options.gang, options, cluster, "gang");
  m.seconds = Seconds(watch.TimeOf(options.gang) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  m.metrics = cluster.ScrapeOperator();
  return m;
}

Measurement RunJobs(const Options& options, const std::string& scheduler) {
  const int pods = options.jobs * options.workers_per_job;
  Cluster cluster(options, "jobs-" + scheduler);
  cluster.StartServer(pods, options.simulate_pods);
  cluster.StartOperator();
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), controller::kJobNameLabel)) Die("cannot watch pods");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<Json> jobs = JobObjects(options, scheduler, pods, "job");
  Measurement m;
  m.pods = pods;
  cluster.ClearRequestLog();
  CpuMeter cpu(options, "jobs-" + scheduler, cluster.server_pid(), cluster.operator_pid());
  auto start = SteadyClock::now();
  cluster.CreateJobsConcurrently(jobs, kSubmitThreads);
  m.submit_seconds = Seconds(SteadyClock::now() - start);
  WaitForPods(watch, pods, options, cluster, "jobs");
  m.seconds = Seconds(watch.TimeOf(pods) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  m.metrics = cluster.ScrapeOperator();
  return m;
}

Measurement RunBare(const Options& options, int threads) {
  const int pods = options.jobs * options.workers_per_job;
  Cluster cluster(options, "bare");
  cluster.StartServer(pods, options.simulate_pods);
  std::vector<Json> bodies;
  for (const Json& object : JobObjects(options, "Builtin", pods, "job")) {
    auto job = api::ParseTrainingJob(cluster.CreateJob(object));
    if (!job.ok()) Die("parse TrainingJob: " + job.status().ToString());
    for (int rank = 0; rank < job->spec.workers; ++rank) {
      bodies.push_back(controller::BuildWorkerPod(*job, rank, 0));
    }
  }
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), controller::kJobNameLabel)) Die("cannot watch pods");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto client = NewClient(cluster.config(), options.qps, options.burst, &cluster.registry());
  Measurement m;
  m.pods = pods;
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  // The client column is this process: the creating threads (and the byte-scanning watch).
  cluster.ClearRequestLog();
  CpuMeter cpu(options, "bare", cluster.server_pid(), ::getpid());
  auto start = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < bodies.size();) {
        if (!client->Create(kube::PodsResource(), "default", bodies[i], kube::Answer::kOutcomeOnly).ok()) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failures.load() > 0) Die("bare client: " + std::to_string(failures.load()) + " pod creates failed");
  WaitForPods(watch, pods, options, cluster, "bare client");
  m.seconds = Seconds(watch.TimeOf(pods) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  return m;
}

Measurement RunFloor(const Options& options, int threads, bool watch_caches) {
  const int pods = options.jobs * options.workers_per_job;
  Cluster cluster(options, watch_caches ? "floor-watch" : "floor");
  cluster.StartServer(pods, options.simulate_pods);
  std::vector<Json> jobs = JobObjects(options, "Builtin", pods, "job");
  PodCreationWatch watch;
  if (!watch.Start(cluster.server_port(), controller::kJobNameLabel)) Die("cannot watch pods");
  auto client = NewClient(cluster.config(), options.qps, options.burst, &cluster.registry());
  std::vector<std::unique_ptr<kube::Informer>> informers;
  if (watch_caches) {
    kube::InformerOptions pod_cache;
    pod_cache.gvr = kube::PodsResource();
    pod_cache.transform = controller::TrimPodForCache;
    pod_cache.decode_mask = controller::PodCacheMask();
    pod_cache.compact = true;
    kube::InformerOptions job_cache;
    job_cache.gvr = kube::TrainingJobsResource();
    job_cache.transform = controller::TrimTrainingJobForCache;
    for (kube::InformerOptions* o : {&pod_cache, &job_cache}) {
      informers.push_back(std::make_unique<kube::Informer>(*client, *o));
      informers.back()->Start();
      if (!informers.back()->WaitForSync(SteadyClock::now() + std::chrono::seconds(10))) Die("floor: informer sync");
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kube::EventRecorder events(*client);
  Measurement m;
  m.pods = pods;
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  cluster.ClearRequestLog();
  CpuMeter cpu(options, watch_caches ? "floor-watch" : "floor", cluster.server_pid(), ::getpid());
  auto start = SteadyClock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
        auto created = client->Create(kube::TrainingJobsResource(), "default", jobs[i]);
        auto job = created.ok() ? api::ParseTrainingJob(*created) : StatusOr<api::TrainingJob>(created.status());
        if (!job.ok()) {
          failures.fetch_add(1);
          continue;
        }
        if (!client->Create(kube::ServicesResource(), "default", controller::BuildService(*job), kube::Answer::kOutcomeOnly)
                 .ok()) {
          failures.fetch_add(1);
        }
        for (int rank = 0; rank < job->spec.workers; ++rank) {
          if (!client->Create(kube::PodsResource(), "default", controller::BuildWorkerPod(*job, rank, 0),
                              kube::Answer::kOutcomeOnly)
                   .ok()) {
            failures.fetch_add(1);
          }
        }
        api::TrainingJobStatus status;
        status.phase = api::JobPhase::kScheduling;
        status.ready = "0/" + std::to_string(job->spec.workers);
        status.message = "gang admitted";
        status.observed_generation = job->metadata.generation;
        status.conditions.push_back({"Admitted", "True", "GangAdmitted", "the gang fits",
                                     FormatRfc3339(std::chrono::system_clock::now()), job->metadata.generation});
        Json updated = *created;
        updated["status"] = api::EncodeStatus(status);
        if (!client->UpdateStatus(kube::TrainingJobsResource(), "default", updated, kube::Answer::kOutcomeOnly).ok()) {
          failures.fetch_add(1);
        }
        events.Record(*created, kube::kEventTypeNormal, "GangAdmitted", "the gang fits");
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failures.load() > 0) Die("floor client: " + std::to_string(failures.load()) + " writes failed");
  WaitForPods(watch, pods, options, cluster, "floor client");
  m.seconds = Seconds(watch.TimeOf(pods) - start);
  cpu.End(&m);
  m.server_requests = cluster.RequestCounts();
  return m;
}

}  // namespace ringleader::bench
