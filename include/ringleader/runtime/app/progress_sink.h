#pragma once
// Where the trainer reports progress. The stdout sink prints the lines `ringleader local`
// parses (the format is a contract, see docs/runtime.md):
//   step=<n> total_steps=<N> loss=<float> samples_per_second=<float>
//   final step=<n> loss=<x> checksum=<hex>
// Another implementation (src/progress) reports rank 0's progress to the TrainingJob's
// status.progress through the Kubernetes API; sinks can be chained with TeeProgressSink.
//
// Thread-safety: called from the training thread only.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ringleader::runtime {

struct ProgressReport {
  int64_t step = 0;
  int64_t total_steps = 0;
  double loss = 0;
  double samples_per_second = 0;
};

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void Report(const ProgressReport& report) = 0;
  virtual void Finish(int64_t step, double loss, const std::string& checksum_hex) = 0;
};

class StdoutProgressSink : public ProgressSink {
 public:
  explicit StdoutProgressSink(std::FILE* out = stdout) : out_(out) {}
  void Report(const ProgressReport& report) override;
  void Finish(int64_t step, double loss, const std::string& checksum_hex) override;

 private:
  std::FILE* out_;
};

// Forwards to several sinks (not owned).
class TeeProgressSink : public ProgressSink {
 public:
  explicit TeeProgressSink(std::vector<ProgressSink*> sinks) : sinks_(std::move(sinks)) {}
  void Report(const ProgressReport& report) override;
  void Finish(int64_t step, double loss, const std::string& checksum_hex) override;

 private:
  std::vector<ProgressSink*> sinks_;
};

// The exact stdout lines (without newline), shared with parsers' tests.
std::string FormatProgressLine(const ProgressReport& report);
std::string FormatFinalLine(int64_t step, double loss, const std::string& checksum_hex);

}  // namespace ringleader::runtime
