#include "ringleader/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace ringleader::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed)) {
  }
}

// Prometheus wants Go-style float text: integers without a fraction, +Inf/-Inf/NaN spelled out.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    // Shortest text that reads back as the same double, like Go's strconv 'g' -1.
    for (int precision = 1; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
  }
  return buf;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const std::string& extra_name = "", const std::string& extra_value = "") {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) out += ",";
    first = false;
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ",";
    out += extra_name + "=\"" + EscapeLabelValue(extra_value) + "\"";
  }
  out += "}";
  return out;
}

}  // namespace

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void Counter::Inc(double amount) {
  if (amount < 0 || std::isnan(amount)) return;
  AtomicAdd(value_, amount);
}
double Counter::Value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::Set(double value) { value_.store(value, std::memory_order_relaxed); }
void Gauge::Inc(double amount) { AtomicAdd(value_, amount); }
void Gauge::Dec(double amount) { AtomicAdd(value_, -amount); }
double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  std::sort(upper_bounds_.begin(), upper_bounds_.end());
  upper_bounds_.erase(std::unique(upper_bounds_.begin(), upper_bounds_.end()), upper_bounds_.end());
  if (!upper_bounds_.empty() && std::isinf(upper_bounds_.back())) upper_bounds_.pop_back();
  bucket_counts_.assign(upper_bounds_.size() + 1, 0);
}

void Histogram::Observe(double value) {
  // Buckets are inclusive upper bounds ("le").
  size_t i = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  std::lock_guard<std::mutex> lock(mu_);
  ++bucket_counts_[i];
  ++count_;
  sum_ += value;
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s;
  std::lock_guard<std::mutex> lock(mu_);
  s.upper_bounds = upper_bounds_;
  uint64_t running = 0;
  for (uint64_t c : bucket_counts_) {
    running += c;
    s.cumulative_counts.push_back(running);
  }
  s.count = count_;
  s.sum = sum_;
  return s;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

template <typename T>
std::unique_ptr<T> Family<T>::MakeChild() const {
  if constexpr (std::is_same_v<T, Histogram>) {
    return std::make_unique<Histogram>(buckets_);
  } else {
    return std::make_unique<T>();
  }
}

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& label_values) {
  std::lock_guard<std::mutex> lock(mu_);
  if (label_values.size() != label_names_.size()) {
    if (!invalid_) invalid_ = MakeChild();
    return *invalid_;
  }
  auto it = children_.find(label_values);
  if (it == children_.end()) it = children_.emplace(label_values, MakeChild()).first;
  return *it->second;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry& Registry::Default() {
  static Registry* registry = new Registry();  // never destroyed: used from detached threads
  return *registry;
}

template <typename T>
Family<T>& Registry::AddFamily(std::map<std::string, std::unique_ptr<Family<T>>>& families,
                               const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = families[name];
  if (!slot) slot.reset(new Family<T>(name, help, std::move(label_names), std::move(buckets)));
  return *slot;
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return AddFamily(counters_, name, help, std::move(label_names), {});
}

Family<Gauge>& Registry::AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names) {
  return AddFamily(gauges_, name, help, std::move(label_names), {});
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> buckets) {
  return AddFamily(histograms_, name, help, std::move(label_names), std::move(buckets));
}

namespace {

template <typename FamilyT>
void RenderHeader(std::ostringstream& out, const std::string& name, const FamilyT& family,
                  const char* type) {
  out << "# HELP " << name << " " << EscapeHelp(family.help()) << "\n";
  out << "# TYPE " << name << " " << type << "\n";
}

}  // namespace

template <typename T>
void Registry::RenderScalars(const std::map<std::string, std::unique_ptr<Family<T>>>& families,
                             const char* type, std::map<std::string, std::string>* blocks) {
  for (const auto& [name, family] : families) {
    std::ostringstream out;
    RenderHeader(out, name, *family, type);
    std::lock_guard<std::mutex> lock(family->mu_);
    for (const auto& [values, child] : family->children_) {
      out << name << LabelText(family->label_names_, values) << " " << FormatValue(child->Value())
          << "\n";
    }
    (*blocks)[name] = out.str();
  }
}

std::string Registry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Families of all types, in name order.
  std::map<std::string, std::string> blocks;
  RenderScalars(counters_, "counter", &blocks);
  RenderScalars(gauges_, "gauge", &blocks);
  for (const auto& [name, family] : histograms_) {
    std::ostringstream out;
    RenderHeader(out, name, *family, "histogram");
    std::lock_guard<std::mutex> flock(family->mu_);
    for (const auto& [values, child] : family->children_) {
      Histogram::Snapshot s = child->Snap();
      const auto& labels = family->label_names_;
      for (size_t i = 0; i < s.upper_bounds.size(); ++i) {
        out << name << "_bucket" << LabelText(labels, values, "le", FormatValue(s.upper_bounds[i]))
            << " " << s.cumulative_counts[i] << "\n";
      }
      out << name << "_bucket" << LabelText(labels, values, "le", "+Inf") << " " << s.count << "\n";
      out << name << "_sum" << LabelText(labels, values) << " " << FormatValue(s.sum) << "\n";
      out << name << "_count" << LabelText(labels, values) << " " << s.count << "\n";
    }
    blocks[name] = out.str();
  }
  std::string text;
  for (auto& [name, block] : blocks) text += block;
  return text;
}

}  // namespace ringleader::metrics
