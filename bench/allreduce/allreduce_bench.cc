// allreduce_bench: nccl-tests-style all-reduce benchmark of Ringleader's CPU backends against
// Open MPI's MPI_Allreduce (default decision, every coll_tuned algorithm, and the default over
// TCP) on the same machine in the same run, with memcpy bandwidth of one 64 MiB buffer as the
// ceiling.
//
//   allreduce_bench --ranks 4 [--backends shm,tcp] [--min-bytes 4] [--max-bytes 256M]
//                   [--repeat 1] [--busy-loops 0] [--stats]
//                   [--mpi on|off] [--mpi-algorithms 1,2,3,4,5,6] [--mpi-tcp on|off]
//                   [--dat busbw.dat] [--target-seconds 0.15] [--shm-chunk 256K]
//                   [--shm-spin-us US] [--fail-rank R]
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
// --repeat N runs every column N times, interleaved: each repeat runs every column once (in an
// order rotated by one per repeat), so Ringleader and Open MPI meet the same machine load.
// Tables show the median over repeats with [min max]; RESULT lines use medians, and a ratio
// also gives its per-repeat range (each repeat's ratio is taken within that repeat).
// --busy-loops K starts K busy-looping processes for the whole measurement (competing load
// that every column meets). --stats adds per-call counters: context switches and minor page
// faults summed over ranks (getrusage around the timed loop), and for shm the ShmStats
// (share of rank time spent in barriers, futex sleeps, wakes).
//
// MPI has no average: the MPI variants time MPI_SUM followed by a division pass over the
// buffer, as a user of MPI_Allreduce would write it (Ringleader fuses the division into its
// last reduction step). The bench measures that pass alone and prints its share of the MPI
// time at 64 MiB (`RESULT mpi_divide_share_...`) so it can be seen not to decide the ratio.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
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

#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/collectives/shm_communicator.h"
#include "ringleader/runtime/rendezvous/socket.h"
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
  bool mpi_tcp = true;  // Open MPI's default decision forced onto its TCP transport
  size_t mpi_search_min_bytes = 64u << 10;
  std::string dat;
  double target_seconds = 0.15;  // time spent per size and variant, roughly
  size_t shm_chunk_bytes = rl::CommunicatorOptions{}.shm_chunk_bytes;
  int shm_spin_us = rl::CommunicatorOptions{}.shm_spin_us;
  bool shm_single_copy = rl::CommunicatorOptions{}.shm_single_copy;
  int repeat = 1;
  int busy_loops = 0;
  bool stats = false;
  int fail_rank = -1;  // testing: this rank exits after the first size
};

// Per-call counters a rank reports for the timed loop (summed over ranks by the harness).
enum Counter {
  kVoluntarySwitches,    // getrusage ru_nvcsw: the rank blocked (futex, poll, ...)
  kInvoluntarySwitches,  // ru_nivcsw: the scheduler took the CPU away
  kMinorFaults,          // ru_minflt
  kBarrierWaitNs,        // shm only: ShmStats::barrier_wait_ns
  kSleeps,               // shm only: futex waits
  kWakes,                // shm only: FUTEX_WAKE calls
  kSpinExits,            // shm only: barriers left while spinning
  kBarriers,             // shm only
  kNumCounters
};

// One measurement: seconds per all-reduce of `bytes` (fp32), and whether results were exact.
struct Sample {
  size_t bytes = 0;
  double seconds = 0;
  bool ok = false;
  std::vector<double> counters;  // per call, summed over ranks; empty if not reported
};

// What one variant (a Ringleader backend, or one mpirun) produced.
struct Run {
  std::vector<Sample> samples;
  std::string backend;  // the backend a Ringleader run resolved to (auto -> shm/tcp)
  std::string error;    // empty when every process exited 0
};

// This process's counters now (rusage), plus the shm communicator's when there is one.
std::vector<double> ReadCounters(const rl::ShmCommunicator* shm) {
  std::vector<double> c(kNumCounters, 0.0);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  c[kVoluntarySwitches] = static_cast<double>(usage.ru_nvcsw);
  c[kInvoluntarySwitches] = static_cast<double>(usage.ru_nivcsw);
  c[kMinorFaults] = static_cast<double>(usage.ru_minflt);
  if (shm != nullptr) {
    const rl::ShmStats& st = shm->stats();
    c[kBarrierWaitNs] = static_cast<double>(st.barrier_wait_ns);
    c[kSleeps] = static_cast<double>(st.sleeps);
    c[kWakes] = static_cast<double>(st.wakes);
    c[kSpinExits] = static_cast<double>(st.spin_exits);
    c[kBarriers] = static_cast<double>(st.barriers);
  }
  return c;
}

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
// (via `agree_max`), time, then check correctness on fresh input. `read_counters` is sampled
// around the timed loop; `agree_sum` sums the per-call deltas over ranks.
template <typename AllReduce, typename AgreeMax, typename AgreeSum, typename ReadCountersFn>
Sample Measure(size_t bytes, int rank, int n, double target_seconds, AllReduce all_reduce,
               AgreeMax agree_max, AgreeSum agree_sum, ReadCountersFn read_counters) {
  Sample s;
  s.bytes = bytes;
  std::vector<float> buf(bytes / sizeof(float));
  FillInput(buf, rank, n);
  auto t0 = std::chrono::steady_clock::now();
  bool ok = all_reduce(buf);
  double warm = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  warm = agree_max(warm);
  const int iters = static_cast<int>(std::clamp(target_seconds / std::max(warm, 1e-7), 2.0, 2000.0));
  const std::vector<double> before = read_counters();
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters && ok; ++i) ok = all_reduce(buf);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> delta = read_counters();
  for (size_t i = 0; i < delta.size(); ++i) delta[i] = (delta[i] - before[i]) / iters;
  s.seconds = agree_max(elapsed) / iters;
  s.counters = agree_sum(delta);
  FillInput(buf, rank, n);
  ok = ok && all_reduce(buf);
  const double bad = agree_max(ok && CheckAverage(buf, n) ? 0.0 : 1.0);
  s.ok = bad == 0.0;
  return s;
}

// "<bytes> <seconds> <ok> <counters...>", the line a rank 0 reports a sample with.
std::string FormatSample(const Sample& s) {
  char head[96];
  std::snprintf(head, sizeof(head), "%zu %.9g %d", s.bytes, s.seconds, s.ok ? 1 : 0);
  std::string line = head;
  for (double c : s.counters) {
    char field[32];
    std::snprintf(field, sizeof(field), " %.6g", c);
    line += field;
  }
  return line + "\n";
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
  co.shm_spin_us = opt.shm_spin_us;
  co.shm_single_copy = opt.shm_single_copy;
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
  auto agree_sum = [&](std::vector<double> v) {
    (void)c.AllReduce(v.data(), v.size(), rl::DataType::kFloat64, rl::ReduceOp::kSum);
    return v;
  };
  const auto* shm = dynamic_cast<const rl::ShmCommunicator*>(&c);
  auto read_counters = [shm] { return ReadCounters(shm); };
  bool all_ok = true;
  for (size_t bytes : Sizes(opt.min_bytes, opt.max_bytes)) {
    Sample s = Measure(bytes, rank, opt.ranks, opt.target_seconds, all_reduce, agree_max,
                       agree_sum, read_counters);
    all_ok = all_ok && s.ok;
    if (rank == 0) {
      const std::string line = FormatSample(s);
      (void)!write(result_fd, line.data(), line.size());
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
    int ok = 0, used = 0;
    if (std::sscanf(line.c_str(), "%zu %lf %d%n", &s.bytes, &s.seconds, &ok, &used) == 3) {
      s.ok = ok == 1;
      std::stringstream rest(line.substr(used));
      for (double c; rest >> c;) s.counters.push_back(c);
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
  auto agree_sum = [&](std::vector<double> v) {
    MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
    return v;
  };
  auto read_counters = [] { return ReadCounters(nullptr); };
  bool all_ok = true;
  for (size_t bytes : Sizes(opt.min_bytes, opt.max_bytes)) {
    Sample s = Measure(bytes, rank, n, opt.target_seconds, all_reduce, agree_max, agree_sum,
                       read_counters);
    all_ok = all_ok && s.ok;
    if (rank == 0) std::printf("MPIRESULT %s", FormatSample(s).c_str());
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
// `tcp`: Open MPI's point-to-point over its TCP transport only (ob1 + btl tcp,self), the path
// it would take between hosts, for comparison with the TCP ring.
// mpirun's stderr goes to a file that is shown only when the run fails.
Run RunMpi(const Options& opt, const std::string& self, int algorithm, bool tcp, size_t min_bytes,
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
  if (tcp) cmd += " --mca pml ob1 --mca btl tcp,self";
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

// A column of the table: one Ringleader backend or one Open MPI variant.
struct Column {
  std::string name;
  bool mpi = false;
  rl::Backend backend = rl::Backend::kShm;  // Ringleader columns
  int algorithm = 0;                        // MPI columns: 0 = default decision
  bool tcp = false;                         // MPI columns: TCP transport only
  size_t min_bytes = 4;                     // smallest size it measures
};

// Median and range of a set of values (of one size and column, over repeats).
struct Spread {
  double median = 0, min = 0, max = 0;
  int n = 0;
};

Spread SpreadOf(std::vector<double> v) {
  Spread s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t mid = v.size() / 2;
  s.median = v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}

// Busy-looping processes (competing load), killed when this object goes.
class BusyLoops {
 public:
  explicit BusyLoops(int count) {
    std::fflush(nullptr);
    for (int i = 0; i < count; ++i) {
      const pid_t pid = fork();
      if (pid == 0) {
        for (;;) asm volatile("");  // the asm keeps the loop (and the core busy)
      }
      if (pid > 0) pids_.push_back(pid);
    }
  }
  ~BusyLoops() {
    for (pid_t pid : pids_) kill(pid, SIGKILL);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
  }

 private:
  std::vector<pid_t> pids_;
};

std::string LoadAverage() {
  char buf[128] = {0};
  const int fd = open("/proc/loadavg", O_RDONLY);
  if (fd < 0) return "?";
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  // "0.52 0.58 0.59 1/467 12345": the three averages.
  size_t end = 0;
  for (int field = 0; field < 3 && end != std::string::npos; ++field) end = text.find(' ', end + 1);
  return text.substr(0, end);
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
    else if (a == "--mpi-tcp") opt.mpi_tcp = next() == "on";
    else if (a == "--mpi-algorithms") {
      opt.mpi_algorithms.clear();
      for (const auto& k : Split(next())) opt.mpi_algorithms.push_back(std::atoi(k.c_str()));
    } else if (a == "--dat") opt.dat = next();
    else if (a == "--target-seconds") opt.target_seconds = std::atof(next().c_str());
    else if (a == "--shm-chunk") opt.shm_chunk_bytes = ParseBytes(next());
    else if (a == "--shm-spin-us") opt.shm_spin_us = std::atoi(next().c_str());
    else if (a == "--shm-single-copy") opt.shm_single_copy = next() == "on";
    else if (a == "--repeat") opt.repeat = std::atoi(next().c_str());
    else if (a == "--busy-loops") opt.busy_loops = std::atoi(next().c_str());
    else if (a == "--stats") opt.stats = true;
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
  if (opt.ranks < 1 || opt.repeat < 1 || opt.busy_loops < 0) {
    std::fprintf(stderr, "allreduce_bench: --ranks and --repeat must be >= 1, --busy-loops >= 0\n");
    return 2;
  }
#ifndef RINGLEADER_HAVE_MPI
  opt.mpi = false;
#endif
  char self[4096] = {0};
  if (readlink("/proc/self/exe", self, sizeof(self) - 1) <= 0) return 1;

  const int n = opt.ranks;
  std::vector<Column> columns;
  for (const auto& name : opt.backends) {
    auto backend = rl::ParseBackend(name);
    if (!backend.ok() || *backend == rl::Backend::kNccl || *backend == rl::Backend::kMpi) {
      std::fprintf(stderr, "allreduce_bench: --backends takes shm, tcp or auto\n");
      return 2;
    }
    columns.push_back({name, false, *backend, 0, false, opt.min_bytes});
  }
  const size_t search_min = std::max(opt.min_bytes, opt.mpi_search_min_bytes);
  if (opt.mpi) {
    columns.push_back({"mpi-default", true, rl::Backend::kMpi, 0, false, opt.min_bytes});
    for (int k : opt.mpi_algorithms) {
      columns.push_back({"mpi-alg" + std::to_string(k), true, rl::Backend::kMpi, k, false, search_min});
    }
    if (opt.mpi_tcp) columns.push_back({"mpi-tcp", true, rl::Backend::kMpi, 0, true, opt.min_bytes});
  }

  std::printf("# allreduce_bench: %d ranks (local processes), fp32, average; %ld cores online; "
              "%d repeat(s), %d busy loop(s)\n",
              n, sysconf(_SC_NPROCESSORS_ONLN), opt.repeat, opt.busy_loops);
  const double memcpy_bw = MemcpyBandwidth();
  std::printf("# memcpy 64MiB: %.2f GB/s (before the busy loops start)\n", memcpy_bw);
  std::fflush(stdout);

  // Every repeat runs every column once; the order rotates so no column always runs first.
  std::map<std::string, std::vector<Run>> runs;  // column -> one Run per repeat
  std::vector<Sample> mpi_divide;
  std::vector<std::string> loads;
  {
    BusyLoops busy(opt.busy_loops);
    for (int rep = 0; rep < opt.repeat; ++rep) {
      loads.push_back(LoadAverage());
      std::printf("# repeat %d/%d: loadavg %s\n", rep + 1, opt.repeat, loads.back().c_str());
      std::fflush(stdout);
      for (size_t i = 0; i < columns.size(); ++i) {
        const Column& col = columns[(i + rep) % columns.size()];
        if (!col.mpi) {
          runs[col.name].push_back(RunRingleader(opt, col.backend));
        } else {
          const bool divide = col.algorithm == 0 && !col.tcp;
          std::vector<Sample> divide_samples;
          runs[col.name].push_back(
              RunMpi(opt, self, col.algorithm, col.tcp, col.min_bytes, divide ? &divide_samples : nullptr));
          mpi_divide.insert(mpi_divide.end(), divide_samples.begin(), divide_samples.end());
        }
      }
    }
  }

  // Everything that makes the run untrustworthy; non-empty -> correctness=FAIL.
  std::vector<std::string> failures;
  const std::vector<size_t> sizes = Sizes(opt.min_bytes, opt.max_bytes);
  for (const auto& col : columns) {
    for (size_t rep = 0; rep < runs[col.name].size(); ++rep) {
      const Run& run = runs[col.name][rep];
      const std::string where = col.name + (opt.repeat > 1 ? " (repeat " + std::to_string(rep + 1) + ")" : "");
      if (!run.error.empty()) failures.push_back(where + ": " + run.error);
      std::vector<size_t> missing;
      for (size_t bytes : sizes) {
        const Sample* s = Find(run.samples, bytes, /*only_ok=*/false);
        if (s == nullptr && bytes >= col.min_bytes) missing.push_back(bytes);
        if (s != nullptr && !s->ok) failures.push_back(where + ": no exact result at " + Human(bytes));
      }
      if (!missing.empty()) {
        std::string what = where + ": no result at " + Human(missing.front());
        if (missing.size() > 1) what += " and " + std::to_string(missing.size() - 1) + " larger sizes";
        failures.push_back(what);
      }
    }
  }

  // busbw of column `c` at `bytes` in each repeat that has an exact sample.
  auto busbw_per_repeat = [&](const std::string& c, size_t bytes) {
    std::vector<double> out(runs[c].size(), -1.0);
    for (size_t rep = 0; rep < runs[c].size(); ++rep) {
      if (const Sample* s = Find(runs[c][rep].samples, bytes)) out[rep] = BusBw(bytes, s->seconds, n);
    }
    return out;
  };
  auto spread_of = [&](const std::string& c, size_t bytes) {
    std::vector<double> v;
    for (double bw : busbw_per_repeat(c, bytes)) {
      if (bw >= 0) v.push_back(bw);
    }
    return SpreadOf(v);
  };
  // Ratio of `ours` to the best of `peers` at `bytes`: of the medians, and each repeat's own.
  struct Ratio {
    double of_medians = 0;
    double peer_median = 0;
    std::string peer;
    Spread per_repeat;
  };
  auto ratio = [&](const std::string& ours, const std::vector<std::string>& peers, size_t bytes) {
    Ratio r;
    const Spread mine = spread_of(ours, bytes);
    for (const auto& p : peers) {
      const Spread theirs = spread_of(p, bytes);
      if (theirs.n > 0 && theirs.median > r.peer_median) {
        r.peer_median = theirs.median;
        r.peer = p;
      }
    }
    if (mine.n > 0 && r.peer_median > 0) r.of_medians = mine.median / r.peer_median;
    std::vector<double> each;
    const std::vector<double> my_bw = busbw_per_repeat(ours, bytes);
    for (size_t rep = 0; rep < my_bw.size(); ++rep) {
      double best = 0;
      for (const auto& p : peers) {
        const std::vector<double> bw = busbw_per_repeat(p, bytes);
        if (rep < bw.size()) best = std::max(best, bw[rep]);
      }
      if (my_bw[rep] >= 0 && best > 0) each.push_back(my_bw[rep] / best);
    }
    r.per_repeat = SpreadOf(each);
    return r;
  };
  std::vector<std::string> mpi_columns, mpi_shm_columns;
  for (const auto& col : columns) {
    if (col.mpi) mpi_columns.push_back(col.name);
    if (col.mpi && !col.tcp) mpi_shm_columns.push_back(col.name);
  }
  const bool have_mpi_tcp = runs.count("mpi-tcp") > 0;

  std::printf("#\n# %-8s", "size");
  for (const auto& col : columns) {
    std::printf(" | %-11s %9s %7s %15s %2s", col.name.c_str(), "time(us)", "busbw", "[min    max]", "ok");
  }
  const std::string cpu_column = opt.backends.empty() ? "" : opt.backends.front();
  const bool tcp_vs_mpi_tcp = have_mpi_tcp && runs.count("tcp") > 0;
  if (!mpi_columns.empty() && !cpu_column.empty()) std::printf(" | %s/best-mpi [range]", cpu_column.c_str());
  if (tcp_vs_mpi_tcp) std::printf(" | tcp/mpi-tcp [range]");
  std::printf("\n#          (median over %d repeat(s) of time per call; busbw = bytes/time*2(n-1)/n, "
              "GB/s, median [min max])\n",
              opt.repeat);
  FILE* dat = opt.dat.empty() ? nullptr : std::fopen(opt.dat.c_str(), "w");
  if (dat) {
    std::fprintf(dat, "# bytes");
    for (const auto& col : columns) std::fprintf(dat, " %s", col.name.c_str());
    std::fprintf(dat, " mpi-best\n");
  }
  Ratio min_ratio, min_tcp_ratio;
  size_t min_ratio_size = 0, min_tcp_ratio_size = 0;
  for (size_t bytes : sizes) {
    std::printf("  %-8s", Human(bytes).c_str());
    if (dat) std::fprintf(dat, "%zu", bytes);
    for (const auto& col : columns) {
      const Spread bw = spread_of(col.name, bytes);
      bool any_failed = false;
      for (const Run& run : runs[col.name]) {
        const Sample* s = Find(run.samples, bytes, /*only_ok=*/false);
        any_failed = any_failed || (s != nullptr && !s->ok);
      }
      if (bw.n == 0) {
        std::printf(" | %-11s %9s %7s %15s %2s", "", "-", "-", "-", any_failed ? "NO" : "-");
        if (dat) std::fprintf(dat, " NaN");
        continue;
      }
      char range[32];
      std::snprintf(range, sizeof(range), "[%.3f %.3f]", bw.min, bw.max);
      const double seconds = static_cast<double>(bytes) / (bw.median * 1e9 * n / (2.0 * (n - 1)));
      std::printf(" | %-11s %9.1f %7.3f %15s %2s", "", n > 1 ? seconds * 1e6 : 0.0, bw.median, range,
                  any_failed ? "NO" : "ok");
      if (dat) std::fprintf(dat, " %.6g", bw.median);
    }
    const Ratio r = ratio(cpu_column, mpi_columns, bytes);
    if (!mpi_columns.empty() && !cpu_column.empty()) {
      std::printf(" | %5.2f [%.2f %.2f]", r.of_medians, r.per_repeat.min, r.per_repeat.max);
    }
    if (dat) std::fprintf(dat, " %.6g\n", r.peer_median);
    if (r.of_medians > 0 && bytes >= (64u << 10) && (min_ratio_size == 0 || r.of_medians < min_ratio.of_medians)) {
      min_ratio = r;
      min_ratio_size = bytes;
    }
    if (tcp_vs_mpi_tcp) {
      const Ratio t = ratio("tcp", {"mpi-tcp"}, bytes);
      std::printf(" | %5.2f [%.2f %.2f]", t.of_medians, t.per_repeat.min, t.per_repeat.max);
      if (t.of_medians > 0 && bytes >= (64u << 10) &&
          (min_tcp_ratio_size == 0 || t.of_medians < min_tcp_ratio.of_medians)) {
        min_tcp_ratio = t;
        min_tcp_ratio_size = bytes;
      }
    }
    std::printf("\n");
  }
  if (dat) std::fclose(dat);

  if (opt.stats) {
    // Per call, summed over ranks, median over repeats.
    std::printf("#\n# per-call counters (all ranks together; median over repeats): csw = voluntary "
                "context switches, icsw = involuntary, flt = minor faults; shm: wait = share of "
                "rank time in barriers, sleep = futex waits, wake = FUTEX_WAKE calls, spin = "
                "barriers left while spinning, bar = barriers\n");
    for (const auto& col : columns) {
      std::printf("# stats %s:", col.name.c_str());
      for (size_t bytes : sizes) {
        std::vector<std::vector<double>> per_counter(kNumCounters);
        std::vector<double> wait_share;
        for (const Run& run : runs[col.name]) {
          const Sample* s = Find(run.samples, bytes);
          if (s == nullptr || s->counters.size() < kNumCounters) continue;
          for (int k = 0; k < kNumCounters; ++k) per_counter[k].push_back(s->counters[k]);
          if (s->seconds > 0) wait_share.push_back(s->counters[kBarrierWaitNs] / (s->seconds * 1e9 * n));
        }
        if (per_counter[0].empty()) continue;
        auto med = [&](int k) { return SpreadOf(per_counter[k]).median; };
        std::printf("\n#   %-7s csw %8.1f icsw %7.1f flt %8.1f", Human(bytes).c_str(),
                    med(kVoluntarySwitches), med(kInvoluntarySwitches), med(kMinorFaults));
        if (col.backend == rl::Backend::kShm && !col.mpi) {
          std::printf(" | wait %4.0f%% sleep %7.1f wake %6.1f spin %6.1f bar %6.1f",
                      100 * SpreadOf(wait_share).median, med(kSleeps), med(kWakes), med(kSpinExits),
                      med(kBarriers));
        }
      }
      std::printf("\n");
    }
  }

  const size_t k64m = 64u << 20;
  std::printf("#\n");
  for (const auto& c : opt.backends) {
    for (const Run& run : runs[c]) {
      if (!run.backend.empty() && run.backend != c) {
        std::printf("# --backend %s resolved to %s\n", c.c_str(), run.backend.c_str());
        break;
      }
    }
  }
  if (opt.mpi) {
    std::string best_alg = "none";
    double best = 0;
    for (const auto& c : mpi_shm_columns) {
      const Spread s = spread_of(c, k64m);
      if (c.rfind("mpi-alg", 0) == 0 && s.n > 0 && s.median > best) {
        best = s.median;
        best_alg = c.substr(7);
      }
    }
    std::printf("# best tuned Open MPI algorithm at 64MiB: coll_tuned_allreduce_algorithm %s\n",
                best_alg.c_str());
  }
  // The division pass's share of the best MPI variant's time at 64 MiB.
  std::vector<double> divide_seconds;
  for (const Sample& s : mpi_divide) {
    if (s.bytes == k64m) divide_seconds.push_back(s.seconds);
  }
  const Ratio at64 = ratio(cpu_column, mpi_columns, k64m);
  double divide_share = -1;
  if (!divide_seconds.empty() && at64.peer_median > 0) {
    const double divide = SpreadOf(divide_seconds).median;
    const double best_mpi_seconds = static_cast<double>(k64m) * 2.0 * (n - 1) / n / (at64.peer_median * 1e9);
    divide_share = divide / best_mpi_seconds;
    std::printf(
        "# mpi average = MPI_SUM + a division pass; that pass alone takes %.0f us at 64MiB, "
        "%.1f%% of the best MPI variant's time\n",
        divide * 1e6, 100 * divide_share);
  }
  std::string load_range;
  for (const auto& l : loads) load_range += (load_range.empty() ? "" : "; ") + l;
  std::printf("# loadavg at each repeat's start: %s\n", load_range.c_str());
  auto range_text = [](const Spread& s) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "(per-repeat %.2f..%.2f)", s.min, s.max);
    return std::string(buf);
  };
  for (const auto& c : opt.backends) {
    const Spread s = spread_of(c, k64m);
    if (s.n == 0) continue;
    std::printf("RESULT busbw_%s_64MiB_%dranks=%.3f (min %.3f, max %.3f)\n", c.c_str(), n, s.median,
                s.min, s.max);
    std::printf("RESULT algbw_%s_64MiB_%dranks=%.3f\n", c.c_str(), n, s.median * n / (2.0 * (n - 1)));
    std::printf("RESULT busbw_vs_memcpy_%s_64MiB_%dranks=%.3f\n", c.c_str(), n, s.median / memcpy_bw);
    const Ratio r = ratio(c, mpi_columns, k64m);
    if (r.of_medians > 0) {
      std::printf("RESULT busbw_ratio_%s_vs_mpi_64MiB_%dranks=%.2f %s\n", c.c_str(), n, r.of_medians,
                  range_text(r.per_repeat).c_str());
    }
  }
  if (tcp_vs_mpi_tcp) {
    const Ratio t = ratio("tcp", {"mpi-tcp"}, k64m);
    if (t.of_medians > 0) {
      std::printf("RESULT busbw_mpi_tcp_64MiB_%dranks=%.3f\n", n, t.peer_median);
      std::printf("RESULT busbw_ratio_tcp_vs_mpi_tcp_64MiB_%dranks=%.2f %s\n", n, t.of_medians,
                  range_text(t.per_repeat).c_str());
    }
  }
  // The name is for the path `--backend auto` takes here: the bench's ranks share one
  // host and publish no GPUs, so CreateCommunicator's rule picks shm (or what an auto column
  // reported).
  const std::string auto_column = runs.count("auto") ? "auto" : (runs.count("shm") ? "shm" : "");
  if (const Spread s = auto_column.empty() ? Spread{} : spread_of(auto_column, k64m); s.n > 0) {
    std::string resolved = auto_column;
    for (const Run& run : runs[auto_column]) {
      if (!run.backend.empty()) resolved = run.backend;
    }
    std::printf("RESULT busbw_vs_memcpy_64MiB_%dranks=%.3f (--backend auto: %s)\n", n,
                s.median / memcpy_bw, resolved.c_str());
  }
  if (at64.peer_median > 0) {
    std::printf("RESULT busbw_best_mpi_64MiB_%dranks=%.3f (%s)\n", n, at64.peer_median, at64.peer.c_str());
  }
  if (divide_share >= 0) {
    std::printf("RESULT mpi_divide_share_64MiB_%dranks=%.3f\n", n, divide_share);
  }
  if (min_ratio_size > 0) {
    std::printf("RESULT min_busbw_ratio_%s_vs_mpi_ge64KiB_%dranks=%.2f (at %s, %s) %s\n",
                cpu_column.c_str(), n, min_ratio.of_medians, Human(min_ratio_size).c_str(),
                min_ratio.peer.c_str(), range_text(min_ratio.per_repeat).c_str());
  }
  if (min_tcp_ratio_size > 0) {
    std::printf("RESULT min_busbw_ratio_tcp_vs_mpi_tcp_ge64KiB_%dranks=%.2f (at %s) %s\n", n,
                min_tcp_ratio.of_medians, Human(min_tcp_ratio_size).c_str(),
                range_text(min_tcp_ratio.per_repeat).c_str());
  }
  std::printf("RESULT repeats=%d busy_loops=%d\n", opt.repeat, opt.busy_loops);
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
