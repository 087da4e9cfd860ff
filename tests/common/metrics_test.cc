#include <gtest/gtest.h>

#include <thread>

#include "ringleader/common/metrics.h"

namespace ringleader::metrics {
namespace {

TEST(MetricsTest, CounterGaugeRendering) {
  Registry registry;
  auto& requests = registry.AddCounter("ringleader_api_requests_total", "API requests.",
                                       {"verb", "code"});
  requests.WithLabels({"get", "200"}).Inc();
  requests.WithLabels({"get", "200"}).Inc(2);
  requests.WithLabels({"create", "409"}).Inc();
  requests.WithLabels({"get", "200"}).Inc(-5);  // ignored: counters only go up
  auto& depth = registry.AddGauge("ringleader_workqueue_depth", "Queue depth.", {"controller"});
  depth.WithLabels({"tj"}).Set(4);
  depth.WithLabels({"tj"}).Dec();
  depth.WithLabels({"tj"}).Inc(0.5);
  EXPECT_EQ(requests.WithLabels({"get", "200"}).Value(), 3);
  EXPECT_EQ(depth.WithLabels({"tj"}).Value(), 3.5);
  const std::string want =
      "# HELP ringleader_api_requests_total API requests.\n"
      "# TYPE ringleader_api_requests_total counter\n"
      "ringleader_api_requests_total{verb=\"create\",code=\"409\"} 1\n"
      "ringleader_api_requests_total{verb=\"get\",code=\"200\"} 3\n"
      "# HELP ringleader_workqueue_depth Queue depth.\n"
      "# TYPE ringleader_workqueue_depth gauge\n"
      "ringleader_workqueue_depth{controller=\"tj\"} 3.5\n";
  EXPECT_EQ(registry.Render(), want);
}

TEST(MetricsTest, HistogramRendering) {
  Registry registry;
  auto& h = registry.AddHistogram("ringleader_reconcile_duration_seconds", "Reconcile time.",
                                  {"controller"}, {0.1, 1, 10});
  auto& child = h.WithLabels({"tj"});
  for (double v : {0.05, 0.1, 0.5, 2.0, 100.0}) child.Observe(v);
  Histogram::Snapshot s = child.Snap();
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 102.65);
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{2, 3, 4, 5}));
  const std::string text = registry.Render();
  const std::vector<std::string> lines = {
      "# TYPE ringleader_reconcile_duration_seconds histogram\n",
      "ringleader_reconcile_duration_seconds_bucket{controller=\"tj\",le=\"0.1\"} 2\n",
      "ringleader_reconcile_duration_seconds_bucket{controller=\"tj\",le=\"1\"} 3\n",
      "ringleader_reconcile_duration_seconds_bucket{controller=\"tj\",le=\"10\"} 4\n",
      "ringleader_reconcile_duration_seconds_bucket{controller=\"tj\",le=\"+Inf\"} 5\n",
      "ringleader_reconcile_duration_seconds_sum{controller=\"tj\"} 102.65\n",
      "ringleader_reconcile_duration_seconds_count{controller=\"tj\"} 5\n",
  };
  for (const auto& line : lines) EXPECT_NE(text.find(line), std::string::npos) << line << text;
}

TEST(MetricsTest, EscapingAndLabelMismatch) {
  Registry registry;
  auto& c = registry.AddCounter("x_total", "Help with \\ and\nnewline.", {"path"});
  c.WithLabels({"a\"b\\c\nd"}).Inc();
  c.WithLabels({"too", "many"}).Inc();  // wrong arity: absorbed, not rendered
  const std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP x_total Help with \\\\ and\\nnewline.\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("too"), std::string::npos);
}

TEST(MetricsTest, RegisteringTwiceReturnsTheSameFamily) {
  Registry registry;
  auto& a = registry.AddCounter("c_total", "C.", {"l"});
  auto& b = registry.AddCounter("c_total", "C.", {"l"});
  EXPECT_EQ(&a, &b);
  auto& g = registry.AddGauge("unlabelled", "U.");
  g.Get().Set(2);
  EXPECT_NE(registry.Render().find("unlabelled 2\n"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdates) {
  Registry registry;
  auto& c = registry.AddCounter("c_total", "C.", {"worker"});
  auto& h = registry.AddHistogram("h_seconds", "H.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c.WithLabels({"shared"}).Inc();
        c.WithLabels({std::to_string(t)}).Inc();
        h.Get().Observe(0.5);
        if (i % 1000 == 0) registry.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.WithLabels({"shared"}).Value(), 40000);
  EXPECT_EQ(h.Get().Snap().count, 40000u);
}

TEST(MetricsTest, Buckets) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(DefaultLatencyBuckets().size(), 11u);
}

}  // namespace
}  // namespace ringleader::metrics
