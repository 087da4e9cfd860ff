// kube_client_bench: how fast the REST client and the work queue are, printed as a table.
//   kube_client_bench [--requests N] [--threads T]
// Rows: sequential GETs with the keep-alive handle pool vs a new client (new TCP connection)
// per request (the ratio is what connection reuse buys), concurrent GETs from T threads, and
// work-queue Add/Get/Done cycles. The API server is the in-process test server on 127.0.0.1.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "ringleader/common/metrics.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/kube/workqueue.h"
#include "ringleader/testing/test_api_server.h"

using namespace ringleader;
using namespace ringleader::kube;

namespace {

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<HttpClient> NewClient(const RestConfig& config, metrics::Registry* registry) {
  HttpClientOptions options;
  options.registry = registry;
  auto client = HttpClient::Create(config, options);
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(client).value();
}

void Row(const char* what, int ops, double seconds, double baseline_rate = 0) {
  double rate = ops / seconds;
  std::printf("%-44s %8d %10.3f %12.0f %10.2f %8s\n", what, ops, seconds, rate,
              seconds / ops * 1e6,
              baseline_rate > 0 ? (std::to_string(rate / baseline_rate).substr(0, 5) + "x").c_str()
                                : "-");
}

}  // namespace

int main(int argc, char** argv) {
  int requests = 2000;
  int threads = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--requests")) requests = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("rl-kube-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  testapi::TestApiServerOptions server_options;
  server_options.kubeconfig_out = (dir / "kubeconfig").string();
  testapi::TestApiServer server(server_options);
  if (Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "server: %s\n", s.ToString().c_str());
    return 1;
  }
  StatusOr<RestConfig> config = LoadKubeconfig({server_options.kubeconfig_out, ""});
  if (!config.ok()) return 1;
  config->qps = 0;  // measure the client, not the limiter
  metrics::Registry registry;
  auto client = NewClient(*config, &registry);
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "bench"}}},
              {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "x"}}})}}}};
  if (!client->Create(PodsResource(), "default", pod).ok()) return 1;

  std::printf("%-44s %8s %10s %12s %10s %8s\n", "operation", "ops", "seconds", "ops/s", "us/op",
              "ratio");
  // Peer: a new client (and connection) per request.
  int fresh_ops = std::max(1, requests / 4);
  auto start = Clock::now();
  for (int i = 0; i < fresh_ops; ++i) {
    auto one_shot = NewClient(*config, &registry);
    if (!one_shot->Get(PodsResource(), "default", "bench").ok()) return 1;
  }
  double fresh_seconds = Seconds(start);
  Row("GET, new connection per request (peer)", fresh_ops, fresh_seconds);
  double fresh_rate = fresh_ops / fresh_seconds;

  start = Clock::now();
  for (int i = 0; i < requests; ++i) {
    if (!client->Get(PodsResource(), "default", "bench").ok()) return 1;
  }
  Row("GET, keep-alive handle pool", requests, Seconds(start), fresh_rate);

  start = Clock::now();
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < requests / threads; ++i) {
        if (!client->Get(PodsResource(), "default", "bench").ok()) ++failures;
      }
    });
  }
  for (auto& w : workers) w.join();
  char label[64];
  std::snprintf(label, sizeof(label), "GET, %d threads sharing one client", threads);
  Row(label, requests / threads * threads, Seconds(start), fresh_rate);
  if (failures) std::fprintf(stderr, "%d concurrent GETs failed\n", failures.load());

  start = Clock::now();
  for (int i = 0; i < requests / 4; ++i) {
    if (!client->Patch(PodsResource(), "default", "bench", PatchType::kMerge,
                       {{"metadata", {{"labels", {{"i", std::to_string(i)}}}}}})
             .ok()) {
      return 1;
    }
  }
  Row("PATCH (merge), keep-alive", requests / 4, Seconds(start), fresh_rate);

  WorkQueue queue;
  const int queue_ops = 200000;
  start = Clock::now();
  for (int i = 0; i < queue_ops; ++i) {
    std::string key = "ns/job-" + std::to_string(i % 1000);
    queue.Add(key);
    auto got = queue.Get();
    queue.Done(*got);
  }
  Row("work queue Add+Get+Done (1000 keys)", queue_ops, Seconds(start));
  server.Stop();
  std::filesystem::remove_all(dir);
  return failures ? 1 : 0;
}
