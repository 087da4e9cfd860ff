// Operator flags and the /metrics /healthz /readyz endpoint (over real HTTP on loopback).
#include "ringleader/operator/operator.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "ringleader/common/metrics.h"
#include "ringleader/operator/health_server.h"

namespace ringleader::controller {
namespace {

StatusOr<OperatorOptions> Parse(std::vector<std::string> args) { return ParseOperatorFlags(args); }

TEST(OperatorFlagsTest, DefaultsMatchTheDocumentedOnes) {
  auto o = Parse({});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->leader_elect);
  EXPECT_EQ(o->workers, 4);
  EXPECT_EQ(o->metrics_addr, "0.0.0.0:8080");
  EXPECT_EQ(o->log_format, "text");
  EXPECT_TRUE(o->namespaces.empty());
  EXPECT_EQ(o->restart_backoff, std::chrono::seconds(10));
  EXPECT_EQ(o->backfill_window, std::chrono::minutes(10));
  EXPECT_EQ(o->pod_event_batch, std::chrono::milliseconds(250));
}

TEST(OperatorFlagsTest, ParsesEveryFlagInBothSpellings) {
  auto o = Parse({"--kubeconfig", "/k", "--namespace=a", "--namespace", "b", "--workers=8", "--qps", "20.5",
                  "--burst=40", "--leader-elect=false", "--leader-election-namespace", "ops",
                  "--metrics-addr=127.0.0.1:9090", "--log-format", "json", "--restart-backoff=500ms",
                  "--restart-backoff-max", "2m", "--admission-retry=1s", "--backfill-window", "0",
                  "--pod-event-batch=1s"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->kubeconfig, "/k");
  EXPECT_EQ(o->namespaces, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o->workers, 8);
  EXPECT_DOUBLE_EQ(o->qps, 20.5);
  EXPECT_EQ(o->burst, 40);
  EXPECT_FALSE(o->leader_elect);
  EXPECT_EQ(o->leader_election_namespace, "ops");
  EXPECT_EQ(o->metrics_addr, "127.0.0.1:9090");
  EXPECT_EQ(o->log_format, "json");
  EXPECT_EQ(o->restart_backoff, std::chrono::milliseconds(500));
  EXPECT_EQ(o->restart_backoff_cap, std::chrono::minutes(2));
  EXPECT_EQ(o->admission_retry, std::chrono::seconds(1));
  EXPECT_EQ(o->backfill_window, std::chrono::milliseconds(0));
  EXPECT_EQ(o->pod_event_batch, std::chrono::seconds(1));
}

TEST(OperatorFlagsTest, BadValuesNameTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {{"--workers=0"}, "--workers"},
           {{"--workers", "many"}, "--workers"},
           {{"--leader-elect=maybe"}, "--leader-elect"},
           {{"--log-format=xml"}, "--log-format"},
           {{"--metrics-addr=localhost"}, "--metrics-addr"},
           {{"--metrics-addr=:99999"}, "--metrics-addr"},
           {{"--restart-backoff=10parsecs"}, "--restart-backoff"},
           {{"--backfill-window=soon"}, "--backfill-window"},
           {{"--pod-event-batch=-1s"}, "--pod-event-batch"},
           {{"--restart-backoff=10s", "--restart-backoff-max=1s"}, "--restart-backoff-max"},
           {{"--namespace"}, "--namespace"},
           {{"--frobnicate"}, "--frobnicate"},
       }) {
    auto o = Parse(c.args);
    ASSERT_FALSE(o.ok()) << c.args[0];
    EXPECT_NE(o.status().message().find(c.want), std::string::npos) << o.status().message();
  }
}

TEST(OperatorFlagsTest, DurationsTakeUnits) {
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("3"), std::chrono::seconds(3));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_FALSE(ParseDuration("s").ok());
  EXPECT_FALSE(ParseDuration("5d").ok());
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::pair<long, std::string> HttpGet(const std::string& url) {
  CURL* curl = curl_easy_init();
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  long code = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  return {code, body};
}

TEST(HealthServerTest, ServesMetricsAndProbes) {
  metrics::Registry registry;
  registry.AddCounter("ringleader_pods_created_total", "Worker pods created.").Get().Inc(3);
  std::atomic<bool> ready{false};
  HealthProbes probes;
  probes.healthy = [](std::string* d) {
    *d = "running";
    return true;
  };
  probes.ready = [&](std::string* d) {
    *d = ready ? "leader, caches synced" : "caches not synced yet";
    return ready.load();
  };
  std::string address = "127.0.0.1:" + std::to_string(FreePort());
  auto server = HealthServer::Start(address, registry, probes);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::string base = "http://" + address;

  auto metrics = HttpGet(base + "/metrics");
  EXPECT_EQ(metrics.first, 200);
  EXPECT_NE(metrics.second.find("ringleader_pods_created_total 3"), std::string::npos) << metrics.second;
  EXPECT_EQ(HttpGet(base + "/healthz").first, 200);
  auto not_ready = HttpGet(base + "/readyz");
  EXPECT_EQ(not_ready.first, 503);
  EXPECT_NE(not_ready.second.find("not synced"), std::string::npos);
  ready = true;
  EXPECT_EQ(HttpGet(base + "/readyz").first, 200);
  EXPECT_EQ(HttpGet(base + "/nope").first, 404);

  // A second server on the same port fails with a message naming the address.
  auto clash = HealthServer::Start(address, registry, probes);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find(address), std::string::npos);
  (*server)->Stop();
}

}  // namespace
}  // namespace ringleader::controller
