// Collective correctness: every CPU backend x ranks {1,2,3,4,7} x counts {0,1,5,1001,262147}
// x all dtypes x {sum, avg}, with exact expected values. Ranks are threads of this process,
// each with its own rendezvous client, communicator and sockets (rank 0 serves the store on an
// inherited 127.0.0.1:0 socket).

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "collective_cases.h"
#include "gang.h"
#include "ringleader/runtime/communicator.h"
#include "ringleader/runtime/rendezvous.h"
#include "ringleader/runtime/socket.h"

namespace ringleader::runtime {
namespace {

using testing::AllDataTypes;
using testing::CheckResult;
using testing::CollectiveCounts;
using testing::MakeInput;
using testing::RunGang;

struct GangParam {
  Backend backend;
  int ranks;
};

std::string ParamName(const ::testing::TestParamInfo<GangParam>& info) {
  return std::string(BackendName(info.param.backend)) + "_" + std::to_string(info.param.ranks) +
         "ranks";
}

class CollectivesTest : public ::testing::TestWithParam<GangParam> {};

TEST_P(CollectivesTest, AllReduceIsExactForEveryCountDtypeAndOp) {
  const GangParam param = GetParam();
  CommunicatorOptions options;
  options.backend = param.backend;
  options.timeout = std::chrono::seconds(20);
  options.shm_chunk_bytes = 64 << 10;  // several staging chunks for the large count
  std::vector<std::string> failures(param.ranks);
  auto statuses = RunGang(param.ranks, options, [&](Communicator& comm) -> Status {
    if (comm.backend() != param.backend) return InternalError("wrong backend");
    for (DataType type : AllDataTypes()) {
      for (size_t count : CollectiveCounts()) {
        for (ReduceOp op : {ReduceOp::kAverage, ReduceOp::kSum}) {
          auto buffer = MakeInput(comm.rank(), comm.size(), count, type);
          RETURN_IF_ERROR(comm.AllReduce(buffer.data(), count, type, op));
          std::string error = CheckResult(buffer.data(), comm.size(), count, type, op);
          if (!error.empty() && failures[comm.rank()].empty()) failures[comm.rank()] = error;
        }
      }
    }
    return comm.Barrier();
  });
  for (int r = 0; r < static_cast<int>(statuses.size()); ++r) {
    EXPECT_TRUE(statuses[r].ok()) << "rank " << r << ": " << statuses[r].ToString();
    if (r < param.ranks) EXPECT_EQ(failures[r], "") << "rank " << r;
  }
}

std::vector<GangParam> AllGangs() {
  std::vector<GangParam> params;
  for (Backend b : {Backend::kTcp, Backend::kShm}) {
    for (int n : {1, 2, 3, 4, 7}) params.push_back({b, n});
  }
  return params;
}

INSTANTIATE_TEST_SUITE_P(CpuBackends, CollectivesTest, ::testing::ValuesIn(AllGangs()), ParamName);

TEST(CollectivesTest, AutoPicksSharedMemoryOnOneHostAndTcpAcrossHosts) {
  CommunicatorOptions options;
  options.backend = Backend::kAuto;
  std::vector<Backend> chosen(2);
  auto statuses = RunGang(2, options, [&](Communicator& comm) {
    chosen[comm.rank()] = comm.backend();
    return Status::Ok();
  });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s.ToString();
  // No GPUs were declared, so NCCL is never chosen.
  EXPECT_EQ(chosen[0], Backend::kShm);
  EXPECT_EQ(chosen[1], Backend::kShm);

  // Ranks 0,1 on host "a", rank 2 on host "b": shared memory is impossible, so TCP.
  std::vector<Backend> across(3);
  statuses = RunGang(
      3, options,
      [&](Communicator& comm) {
        across[comm.rank()] = comm.backend();
        int32_t one = 1;
        RETURN_IF_ERROR(comm.AllReduce(&one, 1, DataType::kInt32, ReduceOp::kSum));
        return one == 3 ? Status::Ok() : InternalError("wrong sum");
      },
      [](int rank) { return rank < 2 ? std::string("a") : std::string("b"); });
  for (const auto& s : statuses) ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(across, std::vector<Backend>(3, Backend::kTcp));

  // Forcing shm across hosts is a configuration error, not a hang.
  CommunicatorOptions shm;
  shm.backend = Backend::kShm;
  statuses = RunGang(2, shm, [](Communicator&) { return Status::Ok(); },
                     [](int rank) { return "host" + std::to_string(rank); });
  for (const auto& s : statuses) EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
}

TEST(CollectivesTest, RepeatedCollectivesReuseTheConnections) {
  CommunicatorOptions options;
  options.backend = Backend::kTcp;
  auto statuses = RunGang(3, options, [&](Communicator& comm) -> Status {
    for (int i = 0; i < 200; ++i) {
      int64_t value = comm.rank() + i;
      RETURN_IF_ERROR(comm.AllReduce(&value, 1, DataType::kInt64, ReduceOp::kSum));
      if (value != 3 + 3 * i) return InternalError("wrong sum at iteration " + std::to_string(i));
    }
    return Status::Ok();
  });
  for (const auto& s : statuses) EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace ringleader::runtime
