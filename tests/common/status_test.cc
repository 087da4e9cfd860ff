#include "ringleader/common/status.h"

#include <gtest/gtest.h>

namespace ringleader {
namespace {

StatusOr<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgumentError("v: must be > 0, got " + std::to_string(v));
  return v;
}

Status Doubled(int v, int* out) {
  ASSIGN_OR_RETURN(int parsed, ParsePositive(v));
  *out = parsed * 2;
  return Status::Ok();
}

TEST(StatusTest, RetryableCodes) {
  struct Case { StatusCode code; bool retryable; };
  for (const Case& c : {Case{StatusCode::kConflict, true}, Case{StatusCode::kUnavailable, true},
                        Case{StatusCode::kGone, true}, Case{StatusCode::kInvalidArgument, false},
                        Case{StatusCode::kNotFound, false}, Case{StatusCode::kOk, false}}) {
    EXPECT_EQ(Status(c.code, "x").IsRetryable(), c.retryable) << StatusCodeName(c.code);
  }
}

TEST(StatusTest, AssignOrReturnPropagates) {
  int out = 0;
  EXPECT_TRUE(Doubled(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status s = Doubled(-1, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "InvalidArgument: v: must be > 0, got -1");
}

TEST(StatusTest, StatusOrFromOkStatusIsAnError) {
  StatusOr<int> v{Status::Ok()};
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace ringleader
