#include "mpi_runner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "collective_harness.h"
#ifdef RINGLEADER_HAVE_MPI
#include <mpi.h>
#endif

namespace ringleader::allreduce_bench {
namespace {

#ifdef RINGLEADER_HAVE_MPI
// MPI has no average: a user divides the sum, in a pass over the buffer.
void DivideBy(std::vector<float>& buf, int n) {
  const float divisor = static_cast<float>(n);
  for (float& v : buf) v /= divisor;
}

// The division pass alone, on a warm 64 MiB buffer (best of 5), as an MPIDIVIDE line.
void MeasureDivide(int n) {
  const size_t k64m = 64u << 20;
  std::vector<float> buf(k64m / sizeof(float), 4.0f);
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    DivideBy(buf, n);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("MPIDIVIDE %zu %.9g 1\n", k64m, best);
}
#endif

// The mpirun command line of one MPI column; its stderr goes to `err_path`.
std::string MpirunCommand(const Options& opt, const std::string& self, int algorithm, bool tcp,
                          size_t min_bytes, const char* err_path) {
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
  return cmd;
}

// Shows the end (at most 2 KiB) of what a failed mpirun wrote to stderr.
void ShowMpirunErrors(const std::string& cmd, const char* err_path) {
  const int fd = open(err_path, O_RDONLY);
  if (fd < 0) return;
  const std::string err = ReadAll(fd);
  close(fd);
  std::fprintf(stderr, "allreduce_bench: %s; its stderr ends:\n%s\n", cmd.c_str(),
               err.substr(err.size() > 2048 ? err.size() - 2048 : 0).c_str());
}

}  // namespace

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
  for (size_t bytes : harness::SizeSweep(opt.min_bytes, opt.max_bytes)) {
    Sample s = harness::MeasureAllReduce(bytes, rank, n, opt.target_seconds, all_reduce, agree_max,
                                         agree_sum, read_counters);
    all_ok = all_ok && s.ok;
    if (rank == 0) std::printf("MPIRESULT %s", FormatSample(s).c_str());
  }
  if (measure_divide && rank == 0 && opt.max_bytes >= (64u << 20)) MeasureDivide(n);
  std::fflush(stdout);
  MPI_Finalize();
  return all_ok ? 0 : 1;
}
#else
int RunMpiChild(const Options&, bool) { return 2; }
#endif

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
  const std::string cmd = MpirunCommand(opt, self, algorithm, tcp, min_bytes, err_path);
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
    // The shell's status: 127 = mpirun not found. Show what mpirun said.
    ShowMpirunErrors(cmd, err_path);
  }
  unlink(err_path);
  run.samples = ParseSamples(text, "MPIRESULT ");
  if (divide != nullptr) *divide = ParseSamples(text, "MPIDIVIDE ");
  return run;
}

}  // namespace ringleader::allreduce_bench
