#include "ringleader/local/progress_line.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace ringleader::local {

namespace {

bool ParseInt64(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// strtod rather than from_chars<double>: the latter is missing from older libstdc++.
bool ParseDouble(std::string_view text, double* out) {
  if (text.empty() || text.size() > 64) return false;
  std::string copy(text);
  char* end = nullptr;
  *out = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && !std::isnan(*out);
}

bool IsHex(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

}  // namespace

std::optional<ProgressLine> ParseProgressLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  ProgressLine out;
  bool have_step = false;
  bool have_loss = false;
  bool first = true;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view token = line.substr(pos, end - pos);
    pos = end + 1;
    if (token.empty()) continue;
    if (first && token == "final") {
      out.is_final = true;
      first = false;
      continue;
    }
    const size_t eq = token.find('=');
    // The line must start with a key=value (or "final"): free text that mentions
    // "step=3" further on is log output, not progress.
    if (eq == std::string_view::npos || eq == 0) {
      if (first) return std::nullopt;
      continue;
    }
    first = false;
    std::string_view key = token.substr(0, eq);
    std::string_view value = token.substr(eq + 1);
    if (key == "step") {
      if (!ParseInt64(value, &out.step) || out.step < 0) return std::nullopt;
      have_step = true;
    } else if (key == "total_steps") {
      if (!ParseInt64(value, &out.total_steps) || out.total_steps < 0) return std::nullopt;
    } else if (key == "loss") {
      if (!ParseDouble(value, &out.loss)) return std::nullopt;
      have_loss = true;
    } else if (key == "samples_per_second") {
      if (!ParseDouble(value, &out.samples_per_second)) return std::nullopt;
    } else if (key == "checksum") {
      if (!IsHex(value)) return std::nullopt;
      out.checksum = std::string(value);
    }
  }
  if (!have_step || !have_loss) return std::nullopt;
  if (out.is_final && out.checksum.empty()) return std::nullopt;
  return out;
}

std::optional<int64_t> ParseResumeLine(std::string_view line) {
  constexpr std::string_view kPrefix = "resumed from step=";
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  int64_t step = 0;
  if (!ParseInt64(line.substr(kPrefix.size()), &step) || step < 0) return std::nullopt;
  return step;
}

}  // namespace ringleader::local
