#pragma once
// A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
// text exposition format 0.0.4 for a /metrics endpoint.
//
// Families are registered once by name (registering the same name and type again returns the
// existing family, so independent components can share a metric). Children are created on
// first use of a label-value tuple and live as long as the registry: the references returned
// by WithLabels() stay valid, so hot paths may cache them.
//
// Thread-safety: everything here is safe to call from many threads at once. Counter/Gauge
// updates are lock-free; histogram observations take a per-child mutex.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ringleader::metrics {

class Counter {
 public:
  void Inc(double amount = 1.0);  // negative amounts are ignored: counters only go up
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value);
  void Inc(double amount = 1.0);
  void Dec(double amount = 1.0);
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // sorted, without +Inf
  void Observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    uint64_t count = 0;
    double sum = 0.0;
  };
  Snapshot Snap() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> bucket_counts_;  // non-cumulative, last = +Inf
  uint64_t count_ = 0;
  double sum_ = 0.0;
};

// Default buckets for latencies in seconds (Prometheus client defaults).
std::vector<double> DefaultLatencyBuckets();
// `count` buckets start, start*factor, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);

enum class MetricType { kCounter, kGauge, kHistogram };

// A named metric with a fixed list of label names.
template <typename T>
class Family {
 public:
  // Values must match the family's label names in number; a mismatch returns a shared
  // "invalid" child that is never rendered (metrics must never crash the operator).
  T& WithLabels(const std::vector<std::string>& label_values);
  // For families without labels.
  T& Get() { return WithLabels({}); }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> buckets)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        buckets_(std::move(buckets)) {}
  std::unique_ptr<T> MakeChild() const;

  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
  std::unique_ptr<T> invalid_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry that /metrics serves by default.
  static Registry& Default();

  Family<Counter>& AddCounter(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(const std::string& name, const std::string& help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names = {},
                                  std::vector<double> buckets = DefaultLatencyBuckets());

  // Text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4).
  std::string Render() const;

 private:
  // Finds or creates the family `name` in `families` (the one map of its metric type).
  template <typename T>
  Family<T>& AddFamily(std::map<std::string, std::unique_ptr<Family<T>>>& families,
                       const std::string& name, const std::string& help,
                       std::vector<std::string> label_names, std::vector<double> buckets);
  template <typename T>
  static void RenderScalars(const std::map<std::string, std::unique_ptr<Family<T>>>& families,
                            const char* type, std::map<std::string, std::string>* blocks);

  mutable std::mutex mu_;
  // Ordered by name so the rendering is stable.
  std::map<std::string, std::unique_ptr<Family<Counter>>> counters_;
  std::map<std::string, std::unique_ptr<Family<Gauge>>> gauges_;
  std::map<std::string, std::unique_ptr<Family<Histogram>>> histograms_;
};

// Escapes a label value for the text format (\\, \", \n).
std::string EscapeLabelValue(const std::string& value);

}  // namespace ringleader::metrics
