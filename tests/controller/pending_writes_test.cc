#include "ringleader/controller/pending_writes.h"

#include <gtest/gtest.h>

namespace ringleader::controller {
namespace {

using std::chrono::seconds;

// Entries live 30 s; every test starts at t0.
class PendingWritesTest : public ::testing::Test {
 protected:
  PendingWrites writes{seconds(30)};
  const PendingWrites::Clock::time_point t0 = PendingWrites::Clock::now();
};

TEST_F(PendingWritesTest, StatusWriteIsPendingUntilTheCacheMovesOn) {
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "5", t0)) << "nothing written";
  writes.StatusWritten("ml/a", "5", t0);
  EXPECT_TRUE(writes.StatusNotYetSeen("ml/a", "5", t0 + seconds(1)));
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/b", "5", t0 + seconds(1))) << "per job";
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "6", t0 + seconds(2))) << "the cache shows a newer object";
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "5", t0 + seconds(2))) << "forgotten once seen";
  EXPECT_EQ(writes.Size(), 0u);
}

TEST_F(PendingWritesTest, EntriesExpireSoALostEventCannotWedgeAJob) {
  writes.StatusWritten("ml/a", "5", t0);
  writes.GateRemoved("ml/a", "uid-1", t0);
  EXPECT_FALSE(writes.StatusNotYetSeen("ml/a", "5", t0 + seconds(31)));
  EXPECT_TRUE(writes.GateRemovalsNotYetSeen("ml/a", {"uid-1"}, t0 + seconds(31)).empty());
  EXPECT_EQ(writes.Size(), 0u);
  writes.StatusWritten("ml/a", "", t0);  // no resourceVersion: nothing to compare against
  EXPECT_EQ(writes.Size(), 0u);
}

TEST_F(PendingWritesTest, GateRemovalsCountUntilTheCacheShowsThePodUngatedOrGone) {
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
