// Collective correctness: every CPU backend x ranks {1,2,3,4,7} x counts {0,1,5,1001,262147}
// x all dtypes x {sum, avg}, with exact expected values. Ranks are threads of this process,
// each with its own rendezvous client, communicator and sockets (rank 0 serves the store on an
// inherited 127.0.0.1:0 socket).

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "collective_cases.h"
#include "gang.h"
#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/collectives/shm_communicator.h"
#include "ringleader/runtime/rendezvous/socket.h"

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
  // CommunicatorOptions::tcp_spin_us; a fixed budget makes every tcp wait spin first.
  int tcp_spin_us = -1;
};

std::string ParamName(const ::testing::TestParamInfo<GangParam>& info) {
  return std::string(BackendName(info.param.backend)) + "_" + std::to_string(info.param.ranks) +
         "ranks" + (info.param.tcp_spin_us > 0 ? "_spin" + std::to_string(info.param.tcp_spin_us) + "us" : "");
}

class CollectivesTest : public ::testing::TestWithParam<GangParam> {};

TEST_P(CollectivesTest, AllReduceIsExactForEveryCountDtypeAndOp) {
  const GangParam param = GetParam();
  CommunicatorOptions options;
  options.backend = param.backend;
  options.timeout = std::chrono::seconds(20);
  options.shm_chunk_bytes = 64 << 10;  // several staging chunks for the large count
  options.shm_single_copy_chunk_bytes = 64 << 10;  // and several single-copy chunks
  options.tcp_spin_us = param.tcp_spin_us;
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
  for (int n : {2, 3}) params.push_back({Backend::kTcp, n, /*tcp_spin_us=*/50});
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


// ---- shm: one barrier per chunk over three rotating slot sets --------------------------------

// Element i of rank r in call c: differs per call, so a copy-in that overwrote a slot set a
// peer was still reading, or a stale slot, shows up as a wrong element. Multiples of n, small
// enough to be exact in fp16.
int64_t CallInput(int rank, int n, int call, size_t i) {
  return n * static_cast<int64_t>((i * 7 + rank * 3 + call * 5) % 11) - 5 * n;
}

struct ShmScheduleParam {
  int ranks;
  int spin_us;
  bool single_copy;  // CommunicatorOptions::shm_single_copy
  // CommunicatorOptions::shm_single_copy_min_bytes: 0, or one that splits the calls below
  // between the two paths (calls then alternate between them).
  size_t single_copy_min_bytes = 0;
  // CommunicatorOptions::shm_reduce_by_last_arrival on (calls of one chunk) or off.
  bool by_last_arrival = false;
};

class ShmScheduleTest : public ::testing::TestWithParam<ShmScheduleParam> {};

// Back-to-back calls whose chunk counts (1, 2, 3, 4, 7 chunks and partial chunks, for 2-, 4- and
// 8-byte types) make the slot sets (staged) and the counter sets (single copy) wrap at every
// offset, with Barrier() in between, each checked exactly; and ShmStats shows exactly C + 1
// barriers per C-chunk call when staged, and 2 per call (published, finished) in single copy.
TEST_P(ShmScheduleTest, BackToBackCallsAreExactAndCostOneBarrierPerChunk) {
  const ShmScheduleParam param = GetParam();
  CommunicatorOptions options;
  options.backend = Backend::kShm;
  options.timeout = std::chrono::seconds(20);
  options.shm_chunk_bytes = 4096;  // the minimum: many chunks from small buffers
  options.shm_single_copy_chunk_bytes = 4096;
  options.shm_spin_us = param.spin_us;
  options.shm_single_copy = param.single_copy;
  options.shm_single_copy_min_bytes = param.single_copy_min_bytes;
  options.shm_reduce_by_last_arrival = param.by_last_arrival ? 1 : 0;
  struct Call {
    DataType type;
    size_t count;
    ReduceOp op;
  };
  std::vector<Call> calls;
  for (DataType type : {DataType::kFloat32, DataType::kInt64, DataType::kFloat16}) {
    const size_t per_chunk = 4096 / DataTypeSize(type);
    for (size_t count : {size_t{1}, per_chunk - 1, per_chunk, per_chunk + 1, 2 * per_chunk,
                         3 * per_chunk + 5, 4 * per_chunk, 7 * per_chunk - 3}) {
      calls.push_back({type, count, calls.size() % 2 == 0 ? ReduceOp::kSum : ReduceOp::kAverage});
    }
  }
  std::vector<std::string> failures(param.ranks);
  std::vector<ShmStats> stats(param.ranks);
  auto statuses = RunGang(param.ranks, options, [&](Communicator& comm) -> Status {
    auto* shm = dynamic_cast<ShmCommunicator*>(&comm);
    if (shm == nullptr) return InternalError("not the shm backend");
    if (shm->single_copy() != param.single_copy) {
      return InternalError("single copy is " + std::string(shm->single_copy() ? "on" : "off") + ": " +
                           shm->single_copy_unavailable());
    }
    const int n = comm.size();
    for (int round = 0; round < 3; ++round) {
      for (size_t c = 0; c < calls.size(); ++c) {
        const Call& call = calls[c];
        const int id = round * 100 + static_cast<int>(c);
        std::vector<char> buffer(call.count * DataTypeSize(call.type));
        for (size_t i = 0; i < call.count; ++i) {
          testing::StoreValue(buffer.data(), i, call.type, CallInput(comm.rank(), n, id, i));
        }
        RETURN_IF_ERROR(comm.AllReduce(buffer.data(), call.count, call.type, call.op));
        for (size_t i = 0; i < call.count && failures[comm.rank()].empty(); ++i) {
          int64_t want = 0;
          for (int r = 0; r < n; ++r) want += CallInput(r, n, id, i);
          if (call.op == ReduceOp::kAverage) want /= n;
          const double got = testing::LoadValue(buffer.data(), i, call.type);
          if (got != static_cast<double>(want)) {
            failures[comm.rank()] = "call " + std::to_string(id) + " " + DataTypeName(call.type) +
                                    " count " + std::to_string(call.count) + ": element " +
                                    std::to_string(i) + " is " + std::to_string(got) + ", want " +
                                    std::to_string(want);
          }
        }
        if (c % 5 == 4) RETURN_IF_ERROR(comm.Barrier());
      }
    }
    stats[comm.rank()] = shm->stats();
    return Status::Ok();
  });
  // Single copy: choosing it at Create takes two barriers, a call two synchronisations of
  // which only the first is completed by an arrival (the second by the last chunk).
  uint64_t want_chunks = 0, want_barriers = 0, want_last_arrivals = 0;
  for (const Call& call : calls) {
    const size_t per_chunk = 4096 / DataTypeSize(call.type);
    const uint64_t chunks = (call.count + per_chunk - 1) / per_chunk;
    want_chunks += chunks;
    const bool single = param.single_copy && call.count * DataTypeSize(call.type) >= param.single_copy_min_bytes;
    const bool by_last = !single && param.by_last_arrival && chunks == 1;
    want_barriers += single ? 2 : by_last ? 1 : chunks + 1;
    want_last_arrivals += single ? 1 : by_last ? 1 : chunks + 1;
  }
  want_chunks *= 3;
  want_barriers = 3 * (want_barriers + calls.size() / 5) + (param.single_copy ? 2 : 0);
  want_last_arrivals = 3 * (want_last_arrivals + calls.size() / 5) + (param.single_copy ? 2 : 0);
  for (int r = 0; r < param.ranks; ++r) {
    ASSERT_TRUE(statuses[r].ok()) << "rank " << r << ": " << statuses[r].ToString();
    EXPECT_EQ(failures[r], "") << "rank " << r;
    EXPECT_EQ(stats[r].collectives, 3 * calls.size()) << "rank " << r;
    EXPECT_EQ(stats[r].chunks, want_chunks) << "rank " << r;
    EXPECT_EQ(stats[r].barriers, want_barriers) << "rank " << r;
    // Without spinning, a rank that is not last to arrive always sleeps.
    if (param.spin_us == 0) EXPECT_EQ(stats[r].spin_exits, 0u) << "rank " << r;
  }
  uint64_t last_arrivals = 0;
  for (const ShmStats& s : stats) last_arrivals += s.last_arrivals;
  EXPECT_EQ(last_arrivals, want_last_arrivals) << "exactly one rank completes each barrier";
}

std::vector<ShmScheduleParam> ShmSchedules() {
  std::vector<ShmScheduleParam> params;
  for (bool single_copy : {false, true}) {
    for (int spin_us : {0, 20}) {
      for (int n : {2, 3, 4, 7}) params.push_back({n, spin_us, single_copy});
    }
  }
  // Calls of up to two chunks stage, larger ones go single copy.
  for (int n : {2, 4}) params.push_back({n, 0, true, 2 * 4096 + 1});
  // Calls of one chunk are reduced by the last arrival; with single copy from two chunks up
  // on, all three paths alternate.
  for (int n : {2, 3, 4, 7}) params.push_back({n, 0, false, 0, true});
  for (int n : {2, 4}) params.push_back({n, 20, true, 2 * 4096 + 1, true});
  return params;
}

INSTANTIATE_TEST_SUITE_P(
    RanksAndSpin, ShmScheduleTest, ::testing::ValuesIn(ShmSchedules()),
    [](const ::testing::TestParamInfo<ShmScheduleParam>& info) {
      return std::to_string(info.param.ranks) + "ranks_spin" + std::to_string(info.param.spin_us) + "us" +
             (!info.param.single_copy                ? "_staged"
              : info.param.single_copy_min_bytes > 0 ? "_both"
                                                     : "_single_copy") +
             (info.param.by_last_arrival ? "_by_last_arrival" : "");
    });

// A rank that never arrives: the others' barrier gives up after the collective timeout with
// an error that names it, instead of waiting forever.
TEST(ShmScheduleTest, BarrierTimeoutNamesTheRankThatDidNotArrive) {
  CommunicatorOptions options;
  options.backend = Backend::kShm;
  options.timeout = std::chrono::milliseconds(300);
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  auto statuses = RunGang(3, options, [&](Communicator& comm) -> Status {
    if (comm.rank() == 2) {
      // Stays alive (same pid as its peers) but never joins the collective, until they gave up.
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::seconds(20), [&] { return finished == 2; });
      return Status::Ok();
    }
    float value = 1;
    Status s = comm.AllReduce(&value, 1, DataType::kFloat32, ReduceOp::kSum);
    std::lock_guard<std::mutex> lock(mu);
    ++finished;
    cv.notify_all();
    return s;
  });
  for (int r : {0, 1}) {
    EXPECT_EQ(statuses[r].code(), StatusCode::kAborted) << statuses[r].ToString();
    EXPECT_NE(statuses[r].message().find("ranks 2 did not arrive"), std::string::npos)
        << statuses[r].ToString();
  }
}

}  // namespace
}  // namespace ringleader::runtime
