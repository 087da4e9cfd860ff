#include "ringleader/policy/failure_attribution.h"

#include <gtest/gtest.h>

#include "ringleader/common/worker_contract.h"

namespace ringleader::controller {
namespace {

constexpr int kPeer = contract::kExitPeerFailed;

struct Case {
  const char* name;
  std::vector<FailedWorker> failed;
  std::optional<size_t> root_cause;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PickRootCauseTest : public ::testing::TestWithParam<Case> {};

TEST_P(PickRootCauseTest, NamesTheWorkerThatFailedFirst) {
  EXPECT_EQ(PickRootCause(GetParam().failed), GetParam().root_cause);
}

INSTANTIATE_TEST_SUITE_P(
    Rule, PickRootCauseTest,
    ::testing::Values(
        Case{"NoFailure", {}, std::nullopt},
        Case{"OneFailure", {{3, 1, "2026-12-05T10:00:00Z"}}, 0},
        // A crash (137) at rank 2 and its peers' exits on the broken collective a second later.
        Case{"EarliestFinishWinsOverLowerRank",
             {{0, 1, "2026-12-05T10:00:01Z"}, {1, 1, "2026-12-05T10:00:01Z"}, {2, 137, "2026-12-05T10:00:00Z"}},
             2},
        Case{"SameSecondPrefersAnExitThatIsNotPeerFailed",
             {{0, kPeer, "2026-12-05T10:00:00Z"}, {1, 1, "2026-12-05T10:00:00Z"}},
             1},
        Case{"EarlierPeerFailedStillWins", {{0, 1, "2026-12-05T10:00:01Z"}, {1, kPeer, "2026-12-05T10:00:00Z"}}, 1},
        Case{"SameTimeAndKindPrefersTheLowestRank",
             {{2, 1, "2026-12-05T10:00:00Z"}, {1, 1, "2026-12-05T10:00:00Z"}},
             1},
        Case{"UnknownTimeGoesAfterEveryKnownOne", {{0, 137, ""}, {1, kPeer, "2026-12-05T10:00:09Z"}}, 1},
        // Local mode: exits reaped together carry no time.
        Case{"AllUnknownPrefersNotPeerFailed", {{0, kPeer, ""}, {1, kPeer, ""}, {2, 143, ""}}, 2},
        Case{"AllPeerFailedUnknownTimeTakesTheLowestRank", {{1, kPeer, ""}, {0, kPeer, ""}}, 1},
        Case{"UnknownExitCodeIsNotPeerFailed", {{0, kPeer, ""}, {1, std::nullopt, ""}}, 1}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ringleader::controller
