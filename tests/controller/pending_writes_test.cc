#include "ringleader/controller/pending_writes.h"

#include <gtest/gtest.h>

namespace ringleader::controller {
namespace {

using std::chrono::seconds;

TEST(PendingWritesTest, StatusWriteIsPendingUntilTheCacheMovesOn) {
  PendingWrites writes(seconds(30));
  auto t0 = PendingWrites::Clock::now();
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "5", t0)) << "nothing written";
  writes.StatusWritten("ml/a", "5", t0);
  EXPECT_TRUE(writes.StatusNotYetSeen("ml/a", "5", t0 + seconds(1)));
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/b", "5", t0 + seconds(1))) << "per job";
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "6", t0 + seconds(2))) << "the cache shows a newer object";
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "5", t0 + seconds(2))) << "forgotten once seen";
  EXPECT_EQ(writes.Size(), 0u);
}

TEST(PendingWritesTest, EntriesExpireSoALostEventCannotWedgeAJob) {
  PendingWrites writes(seconds(30));
  auto t0 = PendingWrites::Clock::now();
  writes.StatusWritten("ml/a", "5", t0);
  writes.GateRemoved("ml/a", "uid-1", t0);
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "5", t0 + seconds(31)));
  EXPECT_TRUE(writes.GateRemovalsNotYetSeen("ml/a", {"uid-1"}, t0 + seconds(31)).empty());
  EXPECT_EQ(writes.Size(), 0u);
  writes.StatusWritten("ml/a", "", t0);  // no resourceVersion: nothing to compare against
  EXPECT_EQ(writes.Size(), 0u);
}

TEST(PendingWritesTest, GateRemovalsCountUntilTheCacheShowsThePodUngatedOrGone) {
  PendingWrites writes(seconds(30));
  auto t0 = PendingWrites::Clock::now();
  writes.GateRemoved("ml/a", "uid-1", t0);
  writes.GateRemoved("ml/a", "uid-2", t0);
  EXPECT_EQ(writes.GateRemovalsNotYetSeen("ml/a", {"uid-1", "uid-2", "uid-3"}, t0),
            (std::set<std::string>{"uid-1", "uid-2"}))
      << "uid-3 is gated and was never patched";
  // uid-1 now shows ungated in the cache (not in the gated set); uid-2 is still stale.
  EXPECT_EQ(writes.GateRemovalsNotYetSeen("ml/a", {"uid-2"}, t0), (std::set<std::string>{"uid-2"}));
  EXPECT_TRUE(writes.GateRemovalsNotYetSeen("ml/a", {"uid-1"}, t0).empty()) << "uid-1 was forgotten";
  EXPECT_EQ(writes.Size(), 0u);
  writes.GateRemoved("ml/a", "uid-9", t0);
  writes.Forget("ml/a");
  EXPECT_EQ(writes.Size(), 0u);
}

}  // namespace
}  // namespace ringleader::controller
