// cma_copy_bench: what one byte costs through cross memory attach (process_vm_readv/writev,
// the shm backend's single-copy path) against a user-space memcpy of the same bytes, on this
// machine. Both move a BYTES-long buffer (another process's for CMA, this process's for
// memcpy) in CHUNK-sized pieces through one chunk-sized local buffer, as the single-copy path
// does per peer. Repeats are interleaved (each repeat runs all four columns) and every copy
// is checked. Prints GB/s median [min max] per column and the per-repeat ratios
// memcpy ÷ CMA as RESULT lines (docs/performance.md).
//   cma_copy_bench [--bytes 64M] [--chunk 256K] [--repeat 7]
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "collective_harness.h"

namespace {

struct Column {
  const char* name;
  std::function<bool()> run;  // false: a copy failed or moved the wrong bytes
  std::vector<double> gbps;
};

}  // namespace

int main(int argc, char** argv) {
  size_t bytes = 64u << 20, chunk = 256u << 10;
  int repeats = 7;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "cma_copy_bench: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--bytes") bytes = ringleader::harness::ByteCountFlagOrExit("cma_copy_bench", a, argv[++i]);
    else if (a == "--chunk") chunk = ringleader::harness::ByteCountFlagOrExit("cma_copy_bench", a, argv[++i]);
    else if (a == "--repeat") repeats = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "cma_copy_bench: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (chunk == 0 || bytes < chunk || bytes % chunk != 0 || repeats < 1) {
    std::fprintf(stderr, "cma_copy_bench: --bytes must be a multiple of --chunk (> 0), --repeat >= 1\n");
    return 2;
  }

  // The remote buffer lives in a child that touches it after fork, so no copy-on-write fault
  // lands in the timed loop; the parent's copy of the mapping is the memcpy side's source.
  char* remote = static_cast<char*>(std::aligned_alloc(4096, bytes));
  char* other = static_cast<char*>(std::aligned_alloc(4096, bytes));
  int go[2], ready[2];
  if (!remote || !other || pipe(go) != 0 || pipe(ready) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    std::memset(remote, 1, bytes);
    char c = 'r';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    if (read(go[0], &c, 1) != 1) _exit(1);
    _exit(0);
  }
  std::memset(other, 1, bytes);
  char c;
  if (read(ready[0], &c, 1) != 1) return 1;
  std::vector<char> local(chunk, 1);

  auto cma = [&](bool to_remote, unsigned char fill) {
    for (size_t o = 0; o < bytes; o += chunk) {
      if (to_remote) local[0] = static_cast<char>(fill);
      iovec here{local.data(), chunk}, there{remote + o, chunk};
      const ssize_t moved = to_remote ? process_vm_writev(child, &here, 1, &there, 1, 0)
                                      : process_vm_readv(child, &here, 1, &there, 1, 0);
      if (moved != static_cast<ssize_t>(chunk)) return false;
      if (!to_remote && local[0] != static_cast<char>(fill)) return false;
    }
    return true;
  };
  unsigned char round = 2;
  std::vector<Column> columns = {
      {"cma-write", [&] { return cma(true, round); }, {}},
      {"cma-read", [&] { return cma(false, round); }, {}},  // reads back what cma-write wrote
      {"memcpy-write", [&] {
         for (size_t o = 0; o < bytes; o += chunk) std::memcpy(other + o, local.data(), chunk);
         return other[bytes - chunk] == local[0];
       }, {}},
      {"memcpy-read", [&] {
         for (size_t o = 0; o < bytes; o += chunk) std::memcpy(local.data(), other + o, chunk);
         return local[0] == other[bytes - chunk];
       }, {}},
  };
  bool ok = true;
  for (int r = 0; r < repeats && ok; ++r, ++round) {
    for (Column& col : columns) {
      const auto start = std::chrono::steady_clock::now();
      ok = col.run() && ok;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      col.gbps.push_back(static_cast<double>(bytes) / s / 1e9);
    }
  }
  c = 'g';
  if (write(go[1], &c, 1) != 1) ok = false;
  waitpid(child, nullptr, 0);
  if (!ok) {
    std::printf("RESULT correctness=FAIL (a copy failed or moved the wrong bytes)\n");
    return 1;
  }

  std::printf("# %zu bytes in %zu-byte chunks, %d interleaved repeats: GB/s median [min max]\n", bytes, chunk,
              repeats);
  for (const Column& col : columns) {
    const auto spread = ringleader::harness::SpreadOf(col.gbps);
    std::printf("%-13s %7.2f [%.2f %.2f]\n", col.name, spread.median, spread.min, spread.max);
  }
  for (int dir = 0; dir < 2; ++dir) {  // write, read
    std::vector<double> ratios;
    for (int r = 0; r < repeats; ++r) ratios.push_back(columns[2 + dir].gbps[r] / columns[dir].gbps[r]);
    const auto spread = ringleader::harness::SpreadOf(ratios);
    std::printf("RESULT memcpy_vs_cma_%s_%zuKiB_chunks=%.2f (per-repeat %.2f..%.2f)\n", dir ? "read" : "write",
                chunk >> 10, spread.median, spread.min, spread.max);
  }
  std::printf("RESULT correctness=ok\n");
  return 0;
}
