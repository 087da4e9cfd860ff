// The shm backend's single-copy path with ranks as separate processes, as in a Pod: it reads
// and writes other processes' memory (process_vm_readv/writev), which the thread gangs of
// collectives_test.cc, all in one process, do not exercise.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "collective_cases.h"
#include "collective_harness.h"
#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/collectives/shm_communicator.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime {
namespace {

// A rank process's exit codes.
constexpr int kExact = 0;
constexpr int kSingleCopyUnavailable = 10;
constexpr int kWrongElement = 11;
constexpr int kCallFailed = 12;
constexpr int kSetupFailed = 13;
constexpr int kAbortedNamingRank2 = 14;

int64_t Input(int rank, int n, int call, size_t i) {
  return n * static_cast<int64_t>((i * 7 + rank * 3 + call * 5) % 11) - 5 * n;
}

StatusOr<std::unique_ptr<Communicator>> Connect(int rank, int n, int port, int listen_fd,
                                                std::unique_ptr<Rendezvous>& rendezvous) {
  auto joined = Rendezvous::Join(harness::LocalRankOptions(rank, n, port, listen_fd, std::chrono::seconds(20)));
  if (!joined.ok()) return joined.status();
  rendezvous = std::move(*joined);
  CommunicatorOptions options;
  options.backend = Backend::kShm;
  options.timeout = std::chrono::seconds(20);
  options.shm_single_copy_min_bytes = 0;
  return CreateCommunicator(*rendezvous, options);
}

// One rank: calls of several sizes and types, each checked exactly; `die_before_call`, when
// this rank is 2, makes it SIGKILL itself before that call.
int RunRank(int rank, int n, int port, int listen_fd, int die_before_call) {
  std::unique_ptr<Rendezvous> rendezvous;
  auto comm = Connect(rank, n, port, listen_fd, rendezvous);
  if (!comm.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, comm.status().ToString().c_str());
    return kSetupFailed;
  }
  auto* shm = dynamic_cast<ShmCommunicator*>(comm->get());
  if (shm == nullptr || !shm->single_copy()) {
    std::fprintf(stderr, "rank %d: %s\n", rank, shm ? shm->single_copy_unavailable().c_str() : "not shm");
    return kSingleCopyUnavailable;
  }
  int call = 0;
  for (DataType type : {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64}) {
    for (size_t bytes : {size_t{4096}, size_t{256} << 10, (size_t{1} << 20) + 24, size_t{3} << 20}) {
      ++call;
      if (rank == 2 && call == die_before_call) raise(SIGKILL);
      const size_t count = bytes / DataTypeSize(type);
      const ReduceOp op = call % 2 ? ReduceOp::kSum : ReduceOp::kAverage;
      std::vector<char> buffer(count * DataTypeSize(type));
      for (size_t i = 0; i < count; ++i) testing::StoreValue(buffer.data(), i, type, Input(rank, n, call, i));
      Status status = (*comm)->AllReduce(buffer.data(), count, type, op);
      if (!status.ok()) {
        std::fprintf(stderr, "rank %d call %d: %s\n", rank, call, status.ToString().c_str());
        const bool names_rank2 = status.message().find("rank 2") != std::string::npos;
        return status.code() == StatusCode::kAborted && names_rank2 ? kAbortedNamingRank2 : kCallFailed;
      }
      for (size_t i = 0; i < count; ++i) {
        int64_t want = 0;
        for (int r = 0; r < n; ++r) want += Input(r, n, call, i);
        if (op == ReduceOp::kAverage) want /= n;
        if (testing::LoadValue(buffer.data(), i, type) != static_cast<double>(want)) {
          std::fprintf(stderr, "rank %d call %d: element %zu wrong\n", rank, call, i);
          return kWrongElement;
        }
      }
    }
  }
  return kExact;
}

// Forks `n` rank processes and returns their exit codes (-1 for a signal).
std::vector<int> RunRankProcesses(int n, int die_before_call) {
  int port = 0;
  auto listener = ListenTcp("127.0.0.1", 0, &port);
  if (!listener.ok()) return {};
  const int listen_fd = listener->release();
  std::vector<pid_t> pids;
  for (int r = 0; r < n; ++r) {
    const pid_t pid = fork();
    if (pid == 0) _exit(RunRank(r, n, port, listen_fd, die_before_call));
    pids.push_back(pid);
  }
  close(listen_fd);
  std::vector<int> codes;
  for (pid_t pid : pids) {
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    codes.push_back(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
  }
  return codes;
}

TEST(ShmSingleCopyProcessTest, ForkedRanksGetExactResults) {
  for (int n : {2, 3, 4}) {
    const std::vector<int> codes = RunRankProcesses(n, /*die_before_call=*/0);
    ASSERT_EQ(codes.size(), static_cast<size_t>(n));
    if (codes[0] == kSingleCopyUnavailable) {
      GTEST_SKIP() << "this kernel or sandbox refuses process_vm_readv between the ranks (see stderr)";
    }
    for (int r = 0; r < n; ++r) EXPECT_EQ(codes[r], kExact) << n << " ranks, rank " << r;
  }
}

// Rank 2 dies before its fifth call: the others, waiting for it to publish its buffer, find it
// gone and fail with an error naming it instead of waiting out the timeout.
TEST(ShmSingleCopyProcessTest, ADeadRankIsNamedByItsPeers) {
  const std::vector<int> codes = RunRankProcesses(3, /*die_before_call=*/5);
  ASSERT_EQ(codes.size(), 3u);
  if (codes[0] == kSingleCopyUnavailable) {
    GTEST_SKIP() << "this kernel or sandbox refuses process_vm_readv between the ranks (see stderr)";
  }
  EXPECT_EQ(codes[0], kAbortedNamingRank2);
  EXPECT_EQ(codes[1], kAbortedNamingRank2);
  EXPECT_EQ(codes[2], -1) << "rank 2 was killed";
}

}  // namespace
}  // namespace ringleader::runtime
