#include "ringleader/runtime/app/progress_sink.h"

#include <cinttypes>

namespace ringleader::runtime {

std::string FormatProgressLine(const ProgressReport& r) {
  char line[256];
  std::snprintf(line, sizeof(line), "step=%" PRId64 " total_steps=%" PRId64 " loss=%.6f samples_per_second=%.1f",
                r.step, r.total_steps, r.loss, r.samples_per_second);
  return line;
}

std::string FormatFinalLine(int64_t step, double loss, const std::string& checksum_hex) {
  char line[256];
  std::snprintf(line, sizeof(line), "final step=%" PRId64 " loss=%.6f checksum=%s", step, loss,
                checksum_hex.c_str());
  return line;
}

void StdoutProgressSink::Report(const ProgressReport& report) {
  std::fprintf(out_, "%s\n", FormatProgressLine(report).c_str());
  std::fflush(out_);
}

void StdoutProgressSink::Finish(int64_t step, double loss, const std::string& checksum_hex) {
  std::fprintf(out_, "%s\n", FormatFinalLine(step, loss, checksum_hex).c_str());
  std::fflush(out_);
}

void TeeProgressSink::Report(const ProgressReport& report) {
  for (auto* s : sinks_) s->Report(report);
}

void TeeProgressSink::Finish(int64_t step, double loss, const std::string& checksum_hex) {
  for (auto* s : sinks_) s->Finish(step, loss, checksum_hex);
}

}  // namespace ringleader::runtime
