#include "collective_harness.h"

#include <cstdio>
#include <cstdlib>
#include <limits>

namespace ringleader::harness {

std::vector<size_t> SizeSweep(size_t min_bytes, size_t max_bytes) {
  std::vector<size_t> sizes;
  for (size_t b = std::max<size_t>(min_bytes, 4); b <= max_bytes; b *= 4) sizes.push_back(b);
  return sizes;
}

double AllReduceBusFactor(int ranks) { return 2.0 * (ranks - 1) / ranks; }

double AlgBwGBps(size_t bytes, double seconds) {
  if (seconds <= 0) return 0;
  return static_cast<double>(bytes) / seconds / 1e9;
}

double BusBwGBps(size_t bytes, double seconds, int ranks) {
  return AlgBwGBps(bytes, seconds) * AllReduceBusFactor(ranks);
}

double AlgBwFromBusBw(double busbw, int ranks) { return busbw * ranks / (2.0 * (ranks - 1)); }

double SecondsAtBusBw(size_t bytes, double busbw, int ranks) {
  return static_cast<double>(bytes) / (AlgBwFromBusBw(busbw, ranks) * 1e9);
}

std::string HumanBytes(size_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20)) std::snprintf(buf, sizeof(buf), "%zuMiB", bytes >> 20);
  else if (bytes >= 1024) std::snprintf(buf, sizeof(buf), "%zuKiB", bytes >> 10);
  else std::snprintf(buf, sizeof(buf), "%zuB", bytes);
  return buf;
}

std::optional<size_t> ParseByteCount(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  const std::string unit = text.substr(digits);
  const size_t scale = unit.empty() || unit == "B"      ? 1
                      : unit == "K" || unit == "KiB" ? size_t{1} << 10
                      : unit == "M" || unit == "MiB" ? size_t{1} << 20
                      : unit == "G" || unit == "GiB" ? size_t{1} << 30
                                                     : 0;
  const size_t count = static_cast<size_t>(std::stoull(text.substr(0, digits)));
  if (scale == 0 || count > std::numeric_limits<size_t>::max() / scale) return std::nullopt;
  return count * scale;
}

size_t ByteCountFlagOrExit(const char* program, const std::string& flag, const std::string& value) {
  const std::optional<size_t> bytes = ParseByteCount(value);
  if (!bytes) {
    std::fprintf(stderr, "%s: %s: '%s' is not a byte count (e.g. 4096, 64K, 4MiB)\n", program, flag.c_str(),
                 value.c_str());
    std::exit(2);
  }
  return *bytes;
}

Spread SpreadOf(std::vector<double> values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  s.median = values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

runtime::RendezvousOptions LocalRankOptions(int rank, int world_size, int port, int store_fd,
                                            std::chrono::milliseconds timeout) {
  runtime::RendezvousOptions options;
  options.env.rank = rank;
  options.env.world_size = world_size;
  options.env.num_workers = world_size;
  options.env.worker_rank = rank;
  options.env.master_addr = "127.0.0.1";
  options.env.master_port = port;
  options.timeout = timeout;
  options.store_listen_fd = rank == 0 ? store_fd : -1;
  return options;
}

int PrintCorrectness(const std::vector<std::string>& failures) {
  if (failures.empty()) {
    std::printf("RESULT correctness=ok\n");
    return 0;
  }
  std::string what;
  for (const auto& f : failures) what += (what.empty() ? "" : "; ") + f;
  std::printf("RESULT correctness=FAIL (%s)\n", what.c_str());
  return 1;
}

}  // namespace ringleader::harness
