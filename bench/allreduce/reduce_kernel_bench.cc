// reduce_kernel_bench: the CPU multi-source reduce (ReduceSources, collectives/dtype.cc, what
// every shm all-reduce spends its arithmetic in) per dtype, against memcpy of the same output
// bytes (one read and one write pass: the ceiling of an in-place reduce) and, for fp32, the
// copy-then-add-each-source loop that ReduceSources replaced (kept here as the reference).
// The layout is the single-copy path's: the rank's own BYTES-long buffer, cold in memory, is
// source 0 and the destination, walked in CHUNK pieces; the other sources are chunk-sized and
// stay in cache, as the peers' chunks just read into scratch do. Every source holds 1.0 and
// the op is the average, so every output element must read back 1.0: each run is checked.
// Repeats are interleaved (each repeat runs every column once). Prints GB/s of output,
// median [min max], and per-repeat ratios as RESULT lines (docs/performance.md).
//   reduce_kernel_bench [--bytes 64M] [--chunk 256K] [--sources 4] [--repeat 7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "collective_harness.h"
#include "ringleader/runtime/collectives/dtype.h"

namespace {

namespace rl = ringleader::runtime;

// The loop ReduceSources had until 14b9b5c: copy source 0 into an L1 block, add each other
// source into it, divide it out: N + 1 passes over the block.
void CopyThenAddEachSource(float* dst, const float* const* sources, int n, size_t count, int divisor) {
  constexpr size_t kBlock = 8192 / sizeof(float);
  float acc[kBlock];
  for (size_t begin = 0; begin < count; begin += kBlock) {
    const size_t len = std::min(kBlock, count - begin);
    for (size_t i = 0; i < len; ++i) acc[i] = sources[0][begin + i];
    for (int s = 1; s < n; ++s) {
      for (size_t i = 0; i < len; ++i) acc[i] += sources[s][begin + i];
    }
    const float d = static_cast<float>(divisor);
    for (size_t i = 0; i < len; ++i) dst[begin + i] = acc[i] / d;
  }
}

// One dtype's buffers: the cold own buffer and the cached peer chunks, all holding 1.0.
struct Buffers {
  rl::DataType type;
  std::vector<char> own;
  std::vector<char> peers;
  std::vector<char> one;  // the dtype's 1.0, one element

  Buffers(rl::DataType t, size_t bytes, size_t chunk, int sources) : type(t), own(bytes), peers(chunk * (sources - 1)) {
    const size_t esize = rl::DataTypeSize(t);
    one.resize(esize);
    const float f = 1.0f;
    const double d = 1.0;
    const uint16_t half = rl::FloatToHalf(1.0f), bf16 = rl::FloatToBFloat16(1.0f);
    const void* src = t == rl::DataType::kFloat32 ? static_cast<const void*>(&f)
                      : t == rl::DataType::kFloat64 ? static_cast<const void*>(&d)
                      : t == rl::DataType::kFloat16 ? static_cast<const void*>(&half)
                                                    : static_cast<const void*>(&bf16);
    std::memcpy(one.data(), src, esize);
    Fill(own);
    Fill(peers);
  }
  void Fill(std::vector<char>& v) const {
    for (size_t o = 0; o < v.size(); o += one.size()) std::memcpy(v.data() + o, one.data(), one.size());
  }
  bool AllOne() const {
    for (size_t o = 0; o < own.size(); o += one.size()) {
      if (std::memcmp(own.data() + o, one.data(), one.size()) != 0) return false;
    }
    return true;
  }
};

struct Column {
  std::string name;
  Buffers* buffers;
  std::function<void()> run;
  std::vector<double> gbps;
};

void Usage(const char* why) {
  std::fprintf(stderr, "reduce_kernel_bench: %s\n  reduce_kernel_bench [--bytes 64M] [--chunk 256K] [--sources 4] [--repeat 7]\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  size_t bytes = 64u << 20, chunk = 256u << 10;
  int sources = 4, repeats = 7;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) Usage((a + " needs a value").c_str());
    const std::string v = argv[++i];
    if (a == "--bytes") bytes = ringleader::harness::ByteCountFlagOrExit("reduce_kernel_bench", a, v);
    else if (a == "--chunk") chunk = ringleader::harness::ByteCountFlagOrExit("reduce_kernel_bench", a, v);
    else if (a == "--sources") sources = std::atoi(v.c_str());
    else if (a == "--repeat") repeats = std::atoi(v.c_str());
    else Usage(("unknown flag " + a).c_str());
  }
  if (chunk == 0 || chunk % 8 != 0 || bytes < chunk || bytes % chunk != 0) {
    Usage("--bytes must be a multiple of --chunk, and --chunk a multiple of 8");
  }
  if (sources < 2 || sources > 64) Usage("--sources must be 2..64");
  if (repeats < 1) Usage("--repeat must be >= 1");

  std::vector<Buffers> all;
  for (rl::DataType t : {rl::DataType::kFloat32, rl::DataType::kFloat64, rl::DataType::kBFloat16,
                         rl::DataType::kFloat16}) {
    all.emplace_back(t, bytes, chunk, sources);
  }
  // Walks the own buffer chunk by chunk, reducing it in place with the cached peer chunks.
  auto in_place = [&](Buffers& b, auto&& kernel) {
    std::vector<const void*> src(static_cast<size_t>(sources));
    for (int s = 1; s < sources; ++s) src[s] = b.peers.data() + (s - 1) * chunk;
    const size_t count = chunk / rl::DataTypeSize(b.type);
    for (size_t o = 0; o < bytes; o += chunk) {
      src[0] = b.own.data() + o;
      kernel(b.own.data() + o, src.data(), count);
    }
  };
  std::vector<Column> columns;
  for (Buffers& b : all) {
    const std::string dtype = rl::DataTypeName(b.type);
    columns.push_back({dtype + " reduce", &b, [&, bp = &b] {
                         in_place(*bp, [&](void* dst, const void* const* src, size_t count) {
                           rl::ReduceSources(dst, src, sources, count, bp->type, sources);
                         });
                       }, {}});
    columns.push_back({dtype + " memcpy", &b, [&, bp = &b] {
                         in_place(*bp, [&](void* dst, const void* const* src, size_t count) {
                           std::memcpy(dst, src[1], count * rl::DataTypeSize(bp->type));
                         });
                       }, {}});
    if (b.type == rl::DataType::kFloat32) {
      columns.push_back({dtype + " blocked", &b, [&, bp = &b] {
                           in_place(*bp, [&](void* dst, const void* const* src, size_t count) {
                             CopyThenAddEachSource(static_cast<float*>(dst), reinterpret_cast<const float* const*>(src),
                                                   sources, count, sources);
                           });
                         }, {}});
    }
  }

  for (int r = 0; r < repeats; ++r) {
    for (size_t k = 0; k < columns.size(); ++k) {
      Column& col = columns[(k + static_cast<size_t>(r)) % columns.size()];  // rotated per repeat
      const auto start = std::chrono::steady_clock::now();
      col.run();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      col.gbps.push_back(static_cast<double>(bytes) / s / 1e9);
      if (!col.buffers->AllOne()) {
        std::printf("RESULT correctness=FAIL (%s: an output element is not 1.0)\n", col.name.c_str());
        return 1;
      }
    }
  }

  std::printf("# %s buffer reduced in place in %s chunks with %d sources (%d cached), %d interleaved repeats:\n"
              "# GB/s of output, median [min max]\n",
              ringleader::harness::HumanBytes(bytes).c_str(), ringleader::harness::HumanBytes(chunk).c_str(),
              sources, sources - 1, repeats);
  for (const Column& col : columns) {
    const auto spread = ringleader::harness::SpreadOf(col.gbps);
    std::printf("%-13s %7.2f [%.2f %.2f]\n", col.name.c_str(), spread.median, spread.min, spread.max);
  }
  // Per-repeat throughput ratios (each within one repeat, so under the same load).
  auto ratio = [&](const std::string& what, const Column& num, const Column& den) {
    std::vector<double> per_repeat;
    for (int r = 0; r < repeats; ++r) per_repeat.push_back(num.gbps[r] / den.gbps[r]);
    const auto spread = ringleader::harness::SpreadOf(per_repeat);
    std::printf("RESULT %s_%dsources=%.2f (per-repeat %.2f..%.2f)\n", what.c_str(), sources, spread.median,
                spread.min, spread.max);
  };
  for (size_t k = 0; k < columns.size(); ++k) {
    const std::string& name = columns[k].name;
    const std::string dtype = name.substr(0, name.find(' '));
    if (name.ends_with(" memcpy")) ratio("reduce_vs_memcpy_" + dtype, columns[k - 1], columns[k]);
    if (name.ends_with(" blocked")) ratio("reduce_vs_blocked_" + dtype, columns[k - 2], columns[k]);
  }
  std::printf("RESULT correctness=ok\n");
  return 0;
}
