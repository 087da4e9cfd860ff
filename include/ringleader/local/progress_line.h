#pragma once
// Parses the progress lines a trainer prints on stdout (the contract in
// include/ringleader/runtime/progress_sink.h and docs/runtime.md):
//   step=<n> total_steps=<N> loss=<float> samples_per_second=<float>
//   final step=<n> loss=<x> checksum=<hex>
//   resumed from step=<s>            (ParseResumeLine)
// Any other line is ordinary log output. Pure functions; thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringleader::local {

struct ProgressLine {
  bool is_final = false;
  int64_t step = 0;
  int64_t total_steps = 0;  // 0 when the line does not say (final lines never do)
  double loss = 0;
  double samples_per_second = 0;
  std::string checksum;  // final lines only
};

// The parsed line, or nullopt when `line` is not a progress line. Keys may come in any order
// and unknown `key=value` tokens are ignored (the format can grow), but `step` and `loss` must
// be present and well formed, and a final line must carry a checksum.
std::optional<ProgressLine> ParseProgressLine(std::string_view line);

// The step of a trainer's "resumed from step=<s>" line (it found a checkpoint after a restart;
// runtime/trainer.h), or nullopt for any other line. Such a line is not a progress line.
std::optional<int64_t> ParseResumeLine(std::string_view line);

}  // namespace ringleader::local
