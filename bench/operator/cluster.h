#pragma once
// One fresh test API server (ringleader-testapiserver, with fake nodes and optionally the pod
// simulator), optionally with an operator, as child processes on 127.0.0.1 in their own temp
// dir; and the bench's clients of them. Every failure Dies (the bench cannot go on without a
// cluster). One owner; CreateJobsConcurrently is the only method that uses threads.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metrics_scrape.h"
#include "options.h"
#include "processes.h"
#include "ringleader/common/metrics.h"
#include "ringleader/kube/client.h"
#include "ringleader/kube/config.h"
#include "ringleader/kube/http_client.h"

namespace ringleader::bench {

// A client of `config` with the given rate limit, as the bench's requests need it.
std::unique_ptr<kube::HttpClient> NewClient(kube::RestConfig config, double qps, int burst,
                                            metrics::Registry* registry, int max_retries = 5);

// One fresh test API server, optionally with an operator, in its own temp dir.
class Cluster {
 public:
  Cluster(const Options& options, std::string name);
  ~Cluster();

  // `nodes` 0: one per 100 pods, plus one. `node_cpus` "": --node-cpus.
  void StartServer(int pods, bool simulate, int nodes = 0, const std::string& node_cpus = "");

  // `default_flags`: the operator as users start it (no --workers, --qps, --burst or
  // --operator-flag).
  void StartOperator(bool default_flags = false);

  // SIGTERM (graceful shutdown), then a fresh operator against the same server.
  void RestartOperator();

  Scrape ScrapeOperator();

  // Waits until the operator has nothing left to do: an empty queue, `jobs` jobs in `phase`,
  // and no reconcile or API request for one second.
  bool WaitQuiet(int jobs, const std::string& phase, std::chrono::seconds timeout);

  // The test server's request log (docs/testing.md): cleared before an interval, counted after.
  void ClearRequestLog();
  std::map<std::string, int> RequestCounts();

  kube::Json CreateJob(const kube::Json& job);

  // "Created at once": from `threads` threads (one thread took 0.3 s of a 1 s run to submit
  // 200 jobs, which measured the bench, not the operator).
  void CreateJobsConcurrently(const std::vector<kube::Json>& jobs, int threads);

  kube::HttpClient& client() { return *client_; }
  const kube::RestConfig& config() const { return config_; }
  int server_port() const { return server_port_; }
  int nodes() const { return nodes_; }
  pid_t operator_pid() const { return operator_.pid(); }
  pid_t server_pid() const { return server_.pid(); }
  metrics::Registry& registry() { return registry_; }
  std::string dir() const { return dir_.string(); }

 private:
  const Options& options_;
  std::string name_;
  std::filesystem::path dir_;
  ChildProcess server_, operator_;
  kube::RestConfig config_;
  int server_port_ = 0, metrics_port_ = 0, nodes_ = 0;
  metrics::Registry registry_;
  std::unique_ptr<kube::HttpClient> client_, metrics_client_;
};

}  // namespace ringleader::bench
