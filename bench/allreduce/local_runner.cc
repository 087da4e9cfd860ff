#include "local_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "collective_harness.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::allreduce_bench {
namespace {

namespace rl = ringleader::runtime;

void WriteLine(int fd, const std::string& line) { (void)!write(fd, line.data(), line.size()); }

// Every size on an open communicator; false once a size failed (a communicator is unusable
// after an error: the remaining sizes would only fail too).
bool MeasureSizes(const Options& opt, rl::Communicator& c, int result_fd) {
  const int rank = c.rank();
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
  for (size_t bytes : harness::SizeSweep(opt.min_bytes, opt.max_bytes)) {
    Sample s = harness::MeasureAllReduce(bytes, rank, opt.ranks, opt.target_seconds, all_reduce,
                                         agree_max, agree_sum, read_counters);
    all_ok = all_ok && s.ok;
    if (rank == 0) WriteLine(result_fd, FormatSample(s));
    if (rank == opt.fail_rank) _exit(3);
    if (!all_ok) break;
  }
  return all_ok;
}

int RunRank(const Options& opt, rl::Backend backend, int rank, int port, int listen_fd,
            int result_fd) {
  rl::RendezvousOptions ro =
      harness::LocalRankOptions(rank, opt.ranks, port, listen_fd, std::chrono::seconds(60));
  auto rdzv = rl::Rendezvous::Join(ro);
  if (!rdzv.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, rdzv.status().ToString().c_str());
    return 1;
  }
  rl::CommunicatorOptions co;
  co.backend = backend;
  co.shm_chunk_bytes = opt.shm_chunk_bytes;
  co.shm_spin_us = opt.shm_spin_us;
  co.tcp_spin_us = opt.tcp_spin_us;
  co.shm_single_copy = opt.shm_single_copy;
  co.shm_single_copy_chunk_bytes = opt.shm_single_copy_chunk_bytes;
  co.shm_reduce_by_last_arrival = opt.shm_reduce_by_last_arrival;
  auto comm = rl::CreateCommunicator(**rdzv, co);
  if (!comm.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, comm.status().ToString().c_str());
    return 1;
  }
  if (rank == 0) WriteLine(result_fd, std::string("backend ") + rl::BackendName((*comm)->backend()) + "\n");
  const bool all_ok = MeasureSizes(opt, **comm, result_fd);
  comm->reset();
  (*rdzv)->Finish();
  return all_ok ? 0 : 1;
}

}  // namespace

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
      _exit(RunRank(opt, backend, r, port, listener->get(), pipe_fds[1]));
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

}  // namespace ringleader::allreduce_bench
