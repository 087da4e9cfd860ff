// allreduce_bench: nccl-tests-style all-reduce benchmark of Ringleader's CPU backends against
// Open MPI's MPI_Allreduce (default decision and every coll_tuned algorithm) on the same
// machine in the same run, with memcpy bandwidth of one 64 MiB buffer as the ceiling.
//
//   allreduce_bench --ranks 4 [--backends shm,tcp] [--min-bytes 4] [--max-bytes 256M]
//                   [--mpi on|off] [--mpi-algorithms 1,2,3,4,5,6] [--dat busbw.dat]
//                   [--target-seconds 0.15] [--shm-chunk 512K] [--fail-rank R]
//   allreduce_bench --gpu      (GPU kernels and NCCL path, see gpu_bench.cc)
//
// It starts its N ranks itself: fork()ed local processes for Ringleader backends (rendezvous
// over an inherited 127.0.0.1:0 socket), `mpirun --oversubscribe -np N` of itself for MPI.
// algbw = bytes / time, busbw = algbw * 2(n-1)/n. Every size is checked for exact results
// after timing. The last lines are machine-readable `RESULT name=value`; the last one is
// `RESULT correctness=ok`, or `RESULT correctness=FAIL (<what>)` with a non-zero exit when a
// result was wrong, a rank or mpirun exited non-zero, or a size has no result.
// --fail-rank R (for the smoke test): rank R of every Ringleader run exits 3 after the first
// size, to show that such a failure is reported.
//
// MPI has no average: the MPI variants time MPI_SUM followed by a division pass over the
// buffer, as a user of MPI_Allreduce would write it (Ringleader fuses the division into its
// last reduction step). The bench measures that pass alone and prints its share of the MPI
// time at 64 MiB (`RESULT mpi_divide_share_...`) so it can be seen not to decide the ratio.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ringleader/runtime/communicator.h"
#include "ringleader/runtime/rendezvous.h"
#include "ringleader/runtime/socket.h"
#ifdef RINGLEADER_HAVE_MPI
#include <mpi.h>
#endif
#ifdef RINGLEADER_GPU_BENCH
#include "gpu_bench.h"
#endif

namespace rl = ringleader::runtime;

namespace {

struct Options {
  int ranks = 4;
  std::vector<std::string> backends = {"shm", "tcp"};
  size_t min_bytes = 4;
  size_t max_bytes = 256u << 20;
  bool mpi = true;
  std::vector<int> mpi_algorithms = {1, 2, 3, 4, 5, 6};
  size_t mpi_search_min_bytes = 64u << 10;
  std::string dat;
  double target_seconds = 0.15;  // time spent per size and variant, roughly
  size_t shm_chunk_bytes = 512u << 10;
  int fail_rank = -1;  // testing: this rank exits after the first size
};

// One measurement: seconds per all-reduce of `bytes` (fp32), and whether results were exact.
struct Sample {
  size_t bytes = 0;
  double seconds = 0;
  bool ok = false;
};

// What one variant (a Ringleader backend, or one mpirun) produced.
struct Run {
  std::vector<Sample> samples;
  std::string backend;  // the backend a Ringleader run resolved to (auto -> shm/tcp)
  std::string error;    // empty when every process exited 0
};

double AlgBw(size_t bytes, double seconds) {
  if (seconds <= 0) return 0;
  return static_cast<double>(bytes) / seconds / 1e9;
}

double BusBw(size_t bytes, double seconds, int n) {
  return AlgBw(bytes, seconds) * 2.0 * (n - 1) / n;
}

// "exited with 3" / "killed by signal 9" for a wait status; empty for exit 0.
std::string DescribeExit(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status) == 0 ? "" : "exited with " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

size_t ParseBytes(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit(end);
  if (unit == "K" || unit == "KiB") v *= 1024;
  if (unit == "M" || unit == "MiB") v *= 1024 * 1024;
  if (unit == "G" || unit == "GiB") v *= 1024.0 * 1024 * 1024;
  return static_cast<size_t>(v);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

std::vector<size_t> Sizes(size_t min_bytes, size_t max_bytes) {
  std::vector<size_t> sizes;
  for (size_t b = std::max<size_t>(min_bytes, 4); b <= max_bytes; b *= 4) sizes.push_back(b);
  return sizes;
}

// Rank r's input: small integers times n, so the average is exact in fp32.
void FillInput(std::vector<float>& buf, int rank, int n) {
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(n * static_cast<int>((i + rank) % 7));
}

bool CheckAverage(const std::vector<float>& buf, int n) {
  for (size_t i = 0; i < buf.size(); ++i) {
    double sum = 0;
    for (int r = 0; r < n; ++r) sum += n * static_cast<int>((i + r) % 7);
    if (buf[i] != static_cast<float>(sum / n)) return false;
  }
  return true;
}

// The timing protocol shared by both harnesses: warm up, agree on an iteration count
// (via `agree_max`), time, then check correctness on fresh input.
template <typename AllReduce, typename AgreeMax>
Sample Measure(size_t bytes, int rank, int n, double target_seconds, AllReduce all_reduce,
               AgreeMax agree_max) {
  Sample s;
  s.bytes = bytes;
  std::vector<float> buf(bytes / sizeof(float));
  FillInput(buf, rank, n);
  auto t0 = std::chrono::steady_clock::now();
  bool ok = all_reduce(buf);
  double warm = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  warm = agree_max(warm);
  const int iters = static_cast<int>(std::clamp(target_seconds / std::max(warm, 1e-7), 2.0, 2000.0));
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters && ok; ++i) ok = all_reduce(buf);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.seconds = agree_max(elapsed) / iters;
  FillInput(buf, rank, n);
  ok = ok && all_reduce(buf);
  const double bad = agree_max(ok && CheckAverage(buf, n) ? 0.0 : 1.0);
  s.ok = bad == 0.0;
  return s;
}

// ---- Ringleader backends: one forked process per rank --------------------------------------

int RunRingleaderRank(const Options& opt, rl::Backend backend, int rank, int port, int listen_fd,
                      int result_fd) {
  rl::RendezvousOptions ro;
  ro.env.rank = rank;
  ro.env.world_size = opt.ranks;
  ro.env.master_addr = "127.0.0.1";
  ro.env.master_port = port;
  ro.timeout = std::chrono::seconds(60);
  ro.store_listen_fd = rank == 0 ? listen_fd : -1;
  auto rdzv = rl::Rendezvous::Join(ro);
  if (!rdzv.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, rdzv.status().ToString().c_str());
    return 1;
  }
  rl::CommunicatorOptions co;
  co.backend = backend;
  co.shm_chunk_bytes = opt.shm_chunk_bytes;
  auto comm = rl::CreateCommunicator(**rdzv, co);
  if (!comm.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, comm.status().ToString().c_str());
    return 1;
  }
  rl::Communicator& c = **comm;
  if (rank == 0) {
    const std::string line = std::string("backend ") + rl::BackendName(c.backend()) + "\n";
    (void)!write(result_fd, line.data(), line.size());
  }
  auto all_reduce = [&](std::vector<float>& buf) {
    auto st = c.AllReduce(buf.data(), buf.size(), rl::DataType::kFloat32, rl::ReduceOp::kAverage);
    if (!st.ok()) std::fprintf(stderr, "rank %d: %s\n", rank, st.ToString().c_str());
    return st.ok();
  };
  auto agree_max = [&](double v) {
    // max via the communicator itself (fp64 sum of one-hot slots).
    std::vector<double> slots(c.size(), 0.0);
    slots[c.rank()] = v;
    (void)c.AllReduce(slots.data(), slots.size(), rl::DataType::kFloat64, rl::ReduceOp::kSum);
    return *std::max_element(slots.begin(), slots.end());
  };
  bool all_ok = true;
  for (size_t bytes : Sizes(opt.min_bytes, opt.max_bytes)) {
    Sample s = Measure(bytes, rank, opt.ranks, opt.target_seconds, all_reduce, agree_max);
    all_ok = all_ok && s.ok;
    if (rank == 0) {
      char line[128];
      int len = std::snprintf(line, sizeof(line), "%zu %.9g %d\n", s.bytes, s.seconds, s.ok ? 1 : 0);
      (void)!write(result_fd, line, len);
    }
    if (rank == opt.fail_rank) _exit(3);
    // A communicator is unusable after an error: the remaining sizes would only fail too.
    if (!all_ok) break;
  }
  comm->reset();
  (*rdzv)->Finish();
  return all_ok ? 0 : 1;
}

// Parses "<bytes> <seconds> <ok>" lines (after `prefix`, when given).
std::vector<Sample> ParseSamples(const std::string& text, const char* prefix) {
  std::vector<Sample> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (prefix != nullptr) {
      if (line.rfind(prefix, 0) != 0) continue;
      line = line.substr(std::strlen(prefix));
    }
    Sample s;
    int ok = 0;
    if (std::sscanf(line.c_str(), "%zu %lf %d", &s.bytes, &s.seconds, &ok) == 3) {
      s.ok = ok == 1;
      out.push_back(s);
    }
  }
  return out;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
  return out;
}

Run RunRingleader(const Options& opt, rl::Backend backend) {
  Run run;
  int port = 0;
  auto listener = rl::ListenTcp("127.0.0.1", 0, &port);
  if (!listener.ok()) {
    run.error = "cannot listen: " + listener.status().message();
    return run;
  }
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    run.error = std::string("pipe: ") + std::strerror(errno);
    return run;
  }
  std::fflush(nullptr);  // the children must not flush our buffered output again
  std::vector<pid_t> pids;
  for (int r = 0; r < opt.ranks; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      close(pipe_fds[0]);
      _exit(RunRingleaderRank(opt, backend, r, port, listener->get(), pipe_fds[1]));
    }
    if (pid < 0) {
      run.error = std::string("fork: ") + std::strerror(errno);
      break;
    }
    pids.push_back(pid);
  }
  listener->reset();
  close(pipe_fds[1]);
  std::string text = ReadAll(pipe_fds[0]);
  close(pipe_fds[0]);
  for (size_t r = 0; r < pids.size(); ++r) {
    int status = 0;
    const std::string exit =
        waitpid(pids[r], &status, 0) == pids[r] ? DescribeExit(status) : "not reaped";
    if (!exit.empty()) {
      run.error += (run.error.empty() ? "rank " : ", rank ") + std::to_string(r) + " " + exit;
    }
  }
  if (auto at = text.find("backend "); at != std::string::npos) {
    run.backend = text.substr(at + 8, text.find('\n', at) - at - 8);
  }
  run.samples = ParseSamples(text, nullptr);
  return run;
}

// ---- Open MPI: mpirun of this binary in --mpi-child mode -----------------------------------

// MPI has no average: a user divides the sum, in a pass over the buffer.
void DivideBy(std::vector<float>& buf, int n) {
  const float divisor = static_cast<float>(n);
  for (float& v : buf) v /= divisor;
}

#ifdef RINGLEADER_HAVE_MPI
int RunMpiChild(const Options& opt, bool measure_divide) {
  MPI_Init(nullptr, nullptr);
  int rank = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  auto all_reduce = [&](std::vector<float>& buf) {
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf.data(), static_cast<int>(buf.size()), MPI_FLOAT,
                           MPI_SUM, MPI_COMM_WORLD);
    DivideBy(buf, n);
    return rc == MPI_SUCCESS;
  };
  auto agree_max = [&](double v) {
    double out = 0;
    MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return out;
  };
  bool all_ok = true;
  for (size_t bytes : Sizes(opt.min_bytes, opt.max_bytes)) {
    Sample s = Measure(bytes, rank, n, opt.target_seconds, all_reduce, agree_max);
    all_ok = all_ok && s.ok;
    if (rank == 0) std::printf("MPIRESULT %zu %.9g %d\n", s.bytes, s.seconds, s.ok ? 1 : 0);
  }
  const size_t k64m = 64u << 20;
  if (measure_divide && rank == 0 && opt.max_bytes >= k64m) {
    // The division pass alone, on a warm 64 MiB buffer (best of 5).
    std::vector<float> buf(k64m / sizeof(float), 4.0f);
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      DivideBy(buf, n);
      best = std::min(best,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("MPIDIVIDE %zu %.9g 1\n", k64m, best);
  }
  std::fflush(stdout);
  MPI_Finalize();
  return all_ok ? 0 : 1;
}
#endif

// algorithm 0 = Open MPI's default decision (that run also measures the division pass).
// mpirun's stderr goes to a file that is shown only when the run fails.
Run RunMpi(const Options& opt, const std::string& self, int algorithm, size_t min_bytes,
           std::vector<Sample>* divide) {
  Run run;
  char err_path[] = "/tmp/allreduce_bench-mpi-XXXXXX";
  const int err_fd = mkstemp(err_path);
  if (err_fd < 0) {
    run.error = std::string("mkstemp: ") + std::strerror(errno);
    return run;
  }
  close(err_fd);
  std::string cmd = std::string(RINGLEADER_MPIEXEC_PATH) + " --oversubscribe --bind-to none";
  if (geteuid() == 0) cmd += " --allow-run-as-root";
  cmd += " -np " + std::to_string(opt.ranks);
  if (algorithm > 0) {
    cmd += " --mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm " +
           std::to_string(algorithm);
  }
  cmd += " " + self + (algorithm == 0 ? " --mpi-child-divide" : " --mpi-child") + " --min-bytes " +
         std::to_string(min_bytes) + " --max-bytes " + std::to_string(opt.max_bytes) +
         " --target-seconds " + std::to_string(opt.target_seconds) + " 2>" + err_path;
  std::fflush(nullptr);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    run.error = std::string("popen: ") + std::strerror(errno);
    unlink(err_path);
    return run;
  }
  std::string text;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) text.append(buf, n);
  const int status = pclose(p);
  if (status == -1) {
    run.error = std::string("pclose: ") + std::strerror(errno);
  } else if (std::string exit = DescribeExit(status); !exit.empty()) {
    run.error = "mpirun " + exit;
    // The shell's status: 127 = mpirun not found. Show what mpirun said, at most 2 KiB.
    const int fd = open(err_path, O_RDONLY);
    if (fd >= 0) {
      const std::string err = ReadAll(fd);
      close(fd);
      std::fprintf(stderr, "allreduce_bench: %s; its stderr ends:\n%s\n", cmd.c_str(),
                   err.substr(err.size() > 2048 ? err.size() - 2048 : 0).c_str());
    }
  }
  unlink(err_path);
  run.samples = ParseSamples(text, "MPIRESULT ");
  if (divide != nullptr) *divide = ParseSamples(text, "MPIDIVIDE ");
  return run;
}

double MemcpyBandwidth() {
  const size_t bytes = 64u << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  std::memcpy(dst.data(), src.data(), bytes);  // fault pages in
  double best = 1e9;
  for (int i = 0; i < 10; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return static_cast<double>(bytes) / best / 1e9;
}

std::string Human(size_t bytes) {
  char buf[32];
  if (bytes >= (1u << 20)) std::snprintf(buf, sizeof(buf), "%zuMiB", bytes >> 20);
  else if (bytes >= 1024) std::snprintf(buf, sizeof(buf), "%zuKiB", bytes >> 10);
  else std::snprintf(buf, sizeof(buf), "%zuB", bytes);
  return buf;
}

// The sample of `bytes`, or nullptr. With `only_ok`, a failed sample counts as none (for the
// ratios and RESULT lines: its time means nothing).
const Sample* Find(const std::vector<Sample>& v, size_t bytes, bool only_ok = true) {
  for (const auto& s : v) {
    if (s.bytes == bytes) return only_ok && !s.ok ? nullptr : &s;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool mpi_child = false, mpi_child_divide = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "allreduce_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--ranks") opt.ranks = std::atoi(next().c_str());
    else if (a == "--backends") opt.backends = Split(next());
    else if (a == "--min-bytes") opt.min_bytes = ParseBytes(next());
    else if (a == "--max-bytes") opt.max_bytes = ParseBytes(next());
    else if (a == "--mpi") opt.mpi = next() == "on";
    else if (a == "--mpi-algorithms") {
      opt.mpi_algorithms.clear();
      for (const auto& k : Split(next())) opt.mpi_algorithms.push_back(std::atoi(k.c_str()));
    } else if (a == "--dat") opt.dat = next();
    else if (a == "--target-seconds") opt.target_seconds = std::atof(next().c_str());
    else if (a == "--shm-chunk") opt.shm_chunk_bytes = ParseBytes(next());
    else if (a == "--fail-rank") opt.fail_rank = std::atoi(next().c_str());
    else if (a == "--mpi-child") mpi_child = true;
    else if (a == "--mpi-child-divide") mpi_child = mpi_child_divide = true;
    else if (a == "--gpu") {
#ifdef RINGLEADER_GPU_BENCH
      return RunGpuBench();
#else
      std::printf("SKIP: built without CUDA\n");
      return 0;
#endif
    }
    else {
      std::fprintf(stderr, "allreduce_bench: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  if (mpi_child) {
#ifdef RINGLEADER_HAVE_MPI
    return RunMpiChild(opt, mpi_child_divide);
#else
    return 2;
#endif
  }
  if (opt.ranks < 1) return 2;
#ifndef RINGLEADER_HAVE_MPI
  opt.mpi = false;
#endif
  char self[4096] = {0};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) return 1;

  const int n = opt.ranks;
  std::printf("# allreduce_bench: %d ranks (local processes), fp32, average; %ld cores online\n", n,
              sysconf(_SC_NPROCESSORS_ONLN));
  const double memcpy_bw = MemcpyBandwidth();
  std::printf("# memcpy 64MiB: %.2f GB/s\n", memcpy_bw);
  std::fflush(stdout);

  std::map<std::string, Run> runs;           // column name -> what it produced
  std::map<std::string, size_t> first_size;  // column name -> smallest size it measures
  std::vector<std::string> columns;
  for (const auto& name : opt.backends) {
    auto backend = rl::ParseBackend(name);
    if (!backend.ok() || *backend == rl::Backend::kNccl || *backend == rl::Backend::kMpi) {
      std::fprintf(stderr, "allreduce_bench: --backends takes shm, tcp or auto\n");
      return 2;
    }
    runs[name] = RunRingleader(opt, *backend);
    first_size[name] = opt.min_bytes;
    columns.push_back(name);
  }
  std::vector<Sample> mpi_divide;
  if (opt.mpi) {
    runs["mpi-default"] = RunMpi(opt, self, 0, opt.min_bytes, &mpi_divide);
    first_size["mpi-default"] = opt.min_bytes;
    columns.push_back("mpi-default");
    for (int k : opt.mpi_algorithms) {
      const std::string col = "mpi-alg" + std::to_string(k);
      const size_t min_bytes = std::max(opt.min_bytes, opt.mpi_search_min_bytes);
      runs[col] = RunMpi(opt, self, k, min_bytes, nullptr);
      first_size[col] = min_bytes;
      columns.push_back(col);
    }
  }

  // Everything that makes the run untrustworthy; non-empty -> correctness=FAIL.
  std::vector<std::string> failures;
  for (const auto& c : columns) {
    if (!runs[c].error.empty()) failures.push_back(c + ": " + runs[c].error);
  }

  std::printf("#\n# %-8s", "size");
  for (const auto& c : columns) {
    std::printf(" | %-12s %9s %7s %7s %2s", c.c_str(), "time(us)", "algbw", "busbw", "ok");
  }
  std::printf("\n#          (algbw = bytes/time, busbw = algbw*2(n-1)/n, GB/s)\n");
  FILE* dat = opt.dat.empty() ? nullptr : std::fopen(opt.dat.c_str(), "w");
  if (dat) {
    std::fprintf(dat, "# bytes");
    for (const auto& c : columns) std::fprintf(dat, " %s", c.c_str());
    std::fprintf(dat, " mpi-best\n");
  }
  double min_ratio_ge_64k = 1e30;
  size_t min_ratio_size = 0;
  std::map<size_t, double> best_mpi;  // per size
  const std::string cpu_column = opt.backends.empty() ? "" : opt.backends.front();
  std::map<std::string, std::vector<size_t>> missing;  // column -> sizes without a result
  for (size_t bytes : Sizes(opt.min_bytes, opt.max_bytes)) {
    std::printf("  %-8s", Human(bytes).c_str());
    if (dat) std::fprintf(dat, "%zu", bytes);
    double mpi_best = 0;
    for (const auto& c : columns) {
      const Sample* s = Find(runs[c].samples, bytes, /*only_ok=*/false);
      if (s == nullptr) {
        if (bytes >= first_size[c]) missing[c].push_back(bytes);
        std::printf(" | %-12s %9s %7s %7s %2s", "", "-", "-", "-", "-");
        if (dat) std::fprintf(dat, " NaN");
        continue;
      }
      if (!s->ok) {
        // A failed collective or a wrong result: its time means nothing.
        failures.push_back(c + ": no exact result at " + Human(bytes));
        std::printf(" | %-12s %9s %7s %7s %2s", "", "-", "-", "-", "NO");
        if (dat) std::fprintf(dat, " NaN");
        continue;
      }
      const double bw = BusBw(bytes, s->seconds, n);
      if (c.rfind("mpi", 0) == 0) mpi_best = std::max(mpi_best, bw);
      std::printf(" | %-12s %9.1f %7.3f %7.3f %2s", "", s->seconds * 1e6, AlgBw(bytes, s->seconds),
                  bw, "ok");
      if (dat) std::fprintf(dat, " %.6g", bw);
    }
    best_mpi[bytes] = mpi_best;
    if (dat) std::fprintf(dat, " %.6g\n", mpi_best);
    std::printf("\n");
    const Sample* cpu = Find(runs[cpu_column].samples, bytes);
    if (opt.mpi && cpu != nullptr && bytes >= (64u << 10) && mpi_best > 0) {
      const double ratio = BusBw(bytes, cpu->seconds, n) / mpi_best;
      if (ratio < min_ratio_ge_64k) {
        min_ratio_ge_64k = ratio;
        min_ratio_size = bytes;
      }
    }
  }
  if (dat) std::fclose(dat);
  for (const auto& [c, sizes] : missing) {
    std::string what = c + ": no result at " + Human(sizes.front());
    if (sizes.size() > 1) what += " and " + std::to_string(sizes.size() - 1) + " larger sizes";
    failures.push_back(what);
  }

  const size_t k64m = 64u << 20;
  std::printf("#\n");
  for (const auto& c : opt.backends) {
    if (!runs[c].backend.empty() && runs[c].backend != c) {
      std::printf("# --backend %s resolved to %s\n", c.c_str(), runs[c].backend.c_str());
    }
  }
  std::string best_mpi_alg_at_64m = "none";
  if (opt.mpi) {
    double best = 0;
    for (const auto& c : columns) {
      if (c.rfind("mpi-alg", 0) != 0) continue;
      const Sample* s = Find(runs[c].samples, k64m);
      if (s && BusBw(k64m, s->seconds, n) > best) {
        best = BusBw(k64m, s->seconds, n);
        best_mpi_alg_at_64m = c.substr(7);
      }
    }
    std::printf("# best tuned Open MPI algorithm at 64MiB: coll_tuned_allreduce_algorithm %s\n",
                best_mpi_alg_at_64m.c_str());
  }
  // The division pass's share of the best MPI variant's time at 64 MiB.
  const Sample* divide = Find(mpi_divide, k64m);
  double best_mpi_seconds_64m = 0;
  for (const auto& c : columns) {
    const Sample* s = c.rfind("mpi", 0) == 0 ? Find(runs[c].samples, k64m) : nullptr;
    if (s != nullptr && (best_mpi_seconds_64m == 0 || s->seconds < best_mpi_seconds_64m)) {
      best_mpi_seconds_64m = s->seconds;
    }
  }
  const double divide_share =
      divide != nullptr && best_mpi_seconds_64m > 0 ? divide->seconds / best_mpi_seconds_64m : -1;
  if (divide_share >= 0) {
    std::printf(
        "# mpi average = MPI_SUM + a division pass; that pass alone takes %.0f us at 64MiB, "
        "%.1f%% of the best MPI variant's time\n",
        divide->seconds * 1e6, 100 * divide_share);
  }
  for (const auto& c : opt.backends) {
    const Sample* s = Find(runs[c].samples, k64m);
    if (s == nullptr) continue;
    const double bw = BusBw(k64m, s->seconds, n);
    std::printf("RESULT busbw_%s_64MiB_%dranks=%.3f\n", c.c_str(), n, bw);
    std::printf("RESULT algbw_%s_64MiB_%dranks=%.3f\n", c.c_str(), n, AlgBw(k64m, s->seconds));
    std::printf("RESULT busbw_vs_memcpy_%s_64MiB_%dranks=%.3f\n", c.c_str(), n, bw / memcpy_bw);
    if (opt.mpi && best_mpi[k64m] > 0) {
      std::printf("RESULT busbw_ratio_%s_vs_mpi_64MiB_%dranks=%.2f\n", c.c_str(), n, bw / best_mpi[k64m]);
    }
  }
  // The name is for the path `--backend auto` takes here: the bench's ranks share one
  // host and publish no GPUs, so CreateCommunicator's rule picks shm (or what an auto column
  // reported).
  std::string auto_column = runs.count("auto") ? "auto" : (runs.count("shm") ? "shm" : "");
  if (const Sample* s = auto_column.empty() ? nullptr : Find(runs[auto_column].samples, k64m)) {
    const std::string resolved =
        runs[auto_column].backend.empty() ? auto_column : runs[auto_column].backend;
    std::printf("RESULT busbw_vs_memcpy_64MiB_%dranks=%.3f (--backend auto: %s)\n", n,
                BusBw(k64m, s->seconds, n) / memcpy_bw, resolved.c_str());
  }
  if (opt.mpi && best_mpi.count(k64m)) {
    std::printf("RESULT busbw_best_mpi_64MiB_%dranks=%.3f\n", n, best_mpi[k64m]);
  }
  if (divide_share >= 0) {
    std::printf("RESULT mpi_divide_share_64MiB_%dranks=%.3f\n", n, divide_share);
  }
  if (opt.mpi && min_ratio_size > 0) {
    std::printf("RESULT min_busbw_ratio_%s_vs_mpi_ge64KiB_%dranks=%.2f (at %s)\n", cpu_column.c_str(),
                n, min_ratio_ge_64k, Human(min_ratio_size).c_str());
  }
  std::printf("RESULT memcpy_64MiB_GBps=%.2f\n", memcpy_bw);
  if (failures.empty()) {
    std::printf("RESULT correctness=ok\n");
    return 0;
  }
  std::string what;
  for (const auto& f : failures) what += (what.empty() ? "" : "; ") + f;
  std::printf("RESULT correctness=FAIL (%s)\n", what.c_str());
  return 1;
}
