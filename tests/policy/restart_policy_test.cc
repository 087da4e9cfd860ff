#include "ringleader/policy/restart_policy.h"

#include <gtest/gtest.h>

namespace ringleader::controller {
namespace {

using std::chrono::milliseconds;

api::RunPolicy Policy(api::RestartPolicy p, int64_t backoff_limit) {
  api::RunPolicy policy;
  policy.restart_policy = p;
  policy.backoff_limit = backoff_limit;
  return policy;
}

AttemptFailure Exit(int code) { return {FailureKind::kExitCode, 1, code, "Error", ""}; }
AttemptFailure Disruption() { return {FailureKind::kDisruption, 2, std::nullopt, "Evicted", ""}; }

TEST(RestartPolicyTest, Table) {
  using RP = api::RestartPolicy;
  struct Case {
    const char* name;
    RP policy;
    int64_t limit, restarts;
    AttemptFailure failure;
    bool retry;
    const char* reason;
  };
  const Case cases[] = {
      {"onfailure first failure", RP::kOnFailure, 3, 0, Exit(1), true, "GangRestarting"},
      {"onfailure last retry", RP::kOnFailure, 3, 2, Exit(1), true, "GangRestarting"},
      {"onfailure limit reached", RP::kOnFailure, 3, 3, Exit(1), false, "BackoffLimitExceeded"},
      {"onfailure limit zero", RP::kOnFailure, 0, 0, Exit(137), false, "BackoffLimitExceeded"},
      {"never exit 1", RP::kNever, 3, 0, Exit(1), false, "RestartPolicyNever"},
      {"never disruption", RP::kNever, 3, 0, Disruption(), false, "RestartPolicyNever"},
      {"exitcode 1 permanent", RP::kExitCode, 3, 0, Exit(1), false, "PermanentExitCode"},
      {"exitcode 127 permanent", RP::kExitCode, 3, 0, Exit(127), false, "PermanentExitCode"},
      {"exitcode 128 retry", RP::kExitCode, 3, 0, Exit(128), true, "GangRestarting"},
      {"exitcode 137 retry", RP::kExitCode, 3, 0, Exit(137), true, "GangRestarting"},
      {"exitcode 175 peer lost retry", RP::kExitCode, 3, 0, Exit(175), true, "GangRestarting"},
      {"exitcode 255 retry", RP::kExitCode, 3, 0, Exit(255), true, "GangRestarting"},
      {"exitcode 255 limit", RP::kExitCode, 3, 3, Exit(255), false, "BackoffLimitExceeded"},
      {"exitcode disruption retry", RP::kExitCode, 3, 1, Disruption(), true, "GangRestarting"},
      {"exitcode gang timeout retry", RP::kExitCode, 3, 0,
       AttemptFailure{FailureKind::kGangTimeout, -1, std::nullopt, "GangTimeout", ""}, true, "GangRestarting"},
  };
  for (const Case& c : cases) {
    RestartDecision d = DecideRestart(Policy(c.policy, c.limit), c.restarts, c.failure);
    EXPECT_EQ(d.retry, c.retry) << c.name << ": " << d.message;
    EXPECT_EQ(d.reason, c.reason) << c.name;
    EXPECT_FALSE(d.message.empty()) << c.name;
  }
}

TEST(RestartPolicyTest, MessageNamesRankAndCode) {
  RestartDecision d = DecideRestart(Policy(api::RestartPolicy::kExitCode, 3), 0, Exit(2));
  EXPECT_NE(d.message.find("worker 1 exited with code 2 (Error)"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("1-127 as permanent"), std::string::npos) << d.message;
}

// The first restart starts at once; the backoff applies from the second.
TEST(RestartPolicyTest, FirstRestartAtOnceThenBackoffDoublesAndCaps) {
  EXPECT_EQ(RestartBackoff(1, milliseconds(100), milliseconds(1000)), milliseconds(0));
  EXPECT_EQ(RestartBackoff(2, milliseconds(100), milliseconds(1000)), milliseconds(100));
  EXPECT_EQ(RestartBackoff(3, milliseconds(100), milliseconds(1000)), milliseconds(200));
  EXPECT_EQ(RestartBackoff(5, milliseconds(100), milliseconds(1000)), milliseconds(800));
  EXPECT_EQ(RestartBackoff(6, milliseconds(100), milliseconds(1000)), milliseconds(1000));
  EXPECT_EQ(RestartBackoff(60, milliseconds(100), milliseconds(1000)), milliseconds(1000));
}

}  // namespace
}  // namespace ringleader::controller
