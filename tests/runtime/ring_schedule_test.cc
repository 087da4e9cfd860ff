#include "ringleader/runtime/collectives/ring_schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ringleader/runtime/collectives/dtype.h"

namespace ringleader::runtime {
namespace {

TEST(RingScheduleTest, SegmentsSplitTheBufferWithTheRemainderFirst) {
  struct Case {
    int world;
    size_t count;
    std::vector<RingSegment> segments;
  };
  const Case cases[] = {
      {1, 5, {{0, 5}}},
      {2, 0, {{0, 0}, {0, 0}}},
      {3, 7, {{0, 3}, {3, 2}, {5, 2}}},
      {4, 2, {{0, 1}, {1, 1}, {2, 0}, {2, 0}}},  // count < world: empty segments at the end
      {4, 8, {{0, 2}, {2, 2}, {4, 2}, {6, 2}}},
      {5, 9, {{0, 2}, {2, 2}, {4, 2}, {6, 2}, {8, 1}}},
  };
  for (const Case& c : cases) {
    for (int rank = 0; rank < c.world; ++rank) {
      EXPECT_EQ(MakeRingSchedule(rank, c.world, c.count).segments, c.segments)
          << "world " << c.world << " count " << c.count << " rank " << rank;
    }
  }
}

TEST(RingScheduleTest, StepsOfEachRank) {
  struct Case {
    int rank;
    int world;
    std::vector<RingStep> steps;  // {send, recv, reduce, completes_segment}
  };
  const Case cases[] = {
      {0, 1, {}},
      {0, 2, {{0, 1, true, true}, {1, 0, false, false}}},
      {1, 2, {{1, 0, true, true}, {0, 1, false, false}}},
      {0, 3, {{0, 2, true, false}, {2, 1, true, true}, {1, 0, false, false}, {0, 2, false, false}}},
      {2, 3, {{2, 1, true, false}, {1, 0, true, true}, {0, 2, false, false}, {2, 1, false, false}}},
      {1, 4,
       {{1, 0, true, false},
        {0, 3, true, false},
        {3, 2, true, true},
        {2, 1, false, false},
        {1, 0, false, false},
        {0, 3, false, false}}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MakeRingSchedule(c.rank, c.world, 100).steps, c.steps)
        << "rank " << c.rank << " of " << c.world;
  }
}

// The properties the TCP ring relies on, for every rank of every world up to 9: each rank
// receives what its left neighbour sends in the same step, forwards in step k+1 what it received
// in step k, finishes reducing segment rank+1, and receives every other segment in all-gather.
TEST(RingScheduleTest, NeighboursAgreeAndEachStepForwardsThePreviousOne) {
  for (int world = 1; world <= 9; ++world) {
    std::vector<RingSchedule> schedules;
    for (int rank = 0; rank < world; ++rank) schedules.push_back(MakeRingSchedule(rank, world, 1000));
    for (int rank = 0; rank < world; ++rank) {
      const std::string where = "rank " + std::to_string(rank) + " of " + std::to_string(world);
      const auto& steps = schedules[rank].steps;
      const auto& left = schedules[(rank + world - 1) % world].steps;
      ASSERT_EQ(steps.size(), static_cast<size_t>(2 * (world - 1))) << where;
      std::vector<int> gathered;
      for (size_t k = 0; k < steps.size(); ++k) {
        EXPECT_EQ(steps[k].recv_segment, left[k].send_segment) << where << " step " << k;
        EXPECT_EQ(steps[k].send_segment, k == 0 ? rank : steps[k - 1].recv_segment) << where << " step " << k;
        if (steps[k].completes_segment) EXPECT_EQ(steps[k].recv_segment, (rank + 1) % world) << where;
        if (!steps[k].reduce) gathered.push_back(steps[k].recv_segment);
      }
      std::vector<int> expected_gathered;
      for (int i = 0; i < world; ++i) {
        if (i != (rank + 1) % world) expected_gathered.push_back(i);
      }
      std::sort(gathered.begin(), gathered.end());
      EXPECT_EQ(gathered, expected_gathered) << where;
    }
  }
}

// Runs the schedules of `world` ranks in memory, step by step (every rank sends, then every rank
// receives from its left neighbour), reducing with the runtime's ReduceInto as the TCP ring does.
std::vector<std::vector<float>> SimulateRing(std::vector<std::vector<float>> buffers, bool average) {
  const int world = static_cast<int>(buffers.size());
  const size_t count = buffers[0].size();
  std::vector<RingSchedule> schedules;
  for (int rank = 0; rank < world; ++rank) schedules.push_back(MakeRingSchedule(rank, world, count));
  for (size_t k = 0; world > 1 && k < schedules[0].steps.size(); ++k) {
    std::vector<std::vector<float>> sent(world);
    for (int rank = 0; rank < world; ++rank) {
      const RingSegment& seg = schedules[rank].segments[schedules[rank].steps[k].send_segment];
      sent[rank].assign(buffers[rank].begin() + seg.begin, buffers[rank].begin() + seg.begin + seg.count);
    }
    for (int rank = 0; rank < world; ++rank) {
      const RingStep& step = schedules[rank].steps[k];
      const RingSegment& seg = schedules[rank].segments[step.recv_segment];
      const std::vector<float>& in = sent[(rank + world - 1) % world];
      EXPECT_EQ(in.size(), seg.count);
      float* dst = buffers[rank].data() + seg.begin;
      if (step.reduce) {
        ReduceInto(dst, in.data(), seg.count, DataType::kFloat32,
                   average && step.completes_segment ? world : 1);
      } else if (seg.count > 0) {
        std::memcpy(dst, in.data(), seg.count * sizeof(float));
      }
    }
  }
  return buffers;
}

TEST(RingScheduleTest, SimulatedRanksEndWithTheExactSumOrAverage) {
  for (int world = 1; world <= 8; ++world) {
    const size_t w = static_cast<size_t>(world);
    for (size_t count : {size_t{0}, size_t{1}, w - 1, w, w + 1, size_t{7}, size_t{13}, size_t{1003}}) {
      for (bool average : {false, true}) {
        std::vector<std::vector<float>> buffers(world, std::vector<float>(count));
        std::vector<float> expected(count);
        for (size_t i = 0; i < count; ++i) {
          int sum = 0;
          for (int rank = 0; rank < world; ++rank) {
            const int value = (rank + 1) * static_cast<int>(i % 17 + 1) - rank;  // small integers: exact sums
            buffers[rank][i] = static_cast<float>(value);
            sum += value;
          }
          expected[i] = average ? static_cast<float>(sum) / static_cast<float>(world) : static_cast<float>(sum);
        }
        const auto result = SimulateRing(buffers, average);
        for (int rank = 0; rank < world; ++rank) {
          EXPECT_EQ(result[rank], expected) << "world " << world << " count " << count << " rank " << rank
                                            << (average ? " average" : " sum");
        }
      }
    }
  }
}

}  // namespace
}  // namespace ringleader::runtime
