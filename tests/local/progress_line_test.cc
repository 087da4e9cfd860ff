#include "ringleader/local/progress_line.h"

#include <gtest/gtest.h>

namespace ringleader::local {
namespace {

struct Case {
  const char* name;
  const char* line;
  bool parsed;
  bool is_final;
  int64_t step;
  int64_t total_steps;
  double loss;
  double samples_per_second;
  const char* checksum;
};

class ProgressLineTest : public ::testing::TestWithParam<Case> {};

TEST_P(ProgressLineTest, Parses) {
  const Case& c = GetParam();
  auto got = ParseProgressLine(c.line);
  ASSERT_EQ(got.has_value(), c.parsed) << c.line;
  if (!c.parsed) return;
  EXPECT_EQ(got->is_final, c.is_final);
  EXPECT_EQ(got->step, c.step);
  EXPECT_EQ(got->total_steps, c.total_steps);
  EXPECT_DOUBLE_EQ(got->loss, c.loss);
  EXPECT_DOUBLE_EQ(got->samples_per_second, c.samples_per_second);
  EXPECT_EQ(got->checksum, c.checksum);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ProgressLineTest,
    ::testing::Values(
        Case{"step", "step=10 total_steps=200 loss=2.302585 samples_per_second=5120.5", true, false, 10, 200,
             2.302585, 5120.5, ""},
        Case{"final", "final step=200 loss=0.0123 checksum=9f8e7d6c", true, true, 200, 0, 0.0123, 0, "9f8e7d6c"},
        Case{"any_order_extra_keys", "loss=1.5 step=3 lr=0.1", true, false, 3, 0, 1.5, 0, ""},
        Case{"trailing_cr", "step=1 loss=1e-3\r", true, false, 1, 0, 0.001, 0, ""},
        Case{"no_loss", "step=1 total_steps=2", false, false, 0, 0, 0, 0, ""},
        Case{"bad_step", "step=x loss=1", false, false, 0, 0, 0, 0, ""},
        Case{"negative_step", "step=-1 loss=1", false, false, 0, 0, 0, 0, ""},
        Case{"nan_loss", "step=1 loss=nan", false, false, 0, 0, 0, 0, ""},
        Case{"free_text", "epoch done, step=3 loss=1", false, false, 0, 0, 0, 0, ""},
        Case{"final_without_checksum", "final step=2 loss=1", false, false, 0, 0, 0, 0, ""},
        Case{"final_bad_checksum", "final step=2 loss=1 checksum=xyz", false, false, 0, 0, 0, 0, ""},
        Case{"empty", "", false, false, 0, 0, 0, 0, ""},
        // The trainer's resume line mentions a step but is not progress (ParseResumeLine).
        Case{"resume_line", "resumed from step=40", false, false, 0, 0, 0, 0, ""}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(ResumeLineTest, Table) {
  EXPECT_EQ(ParseResumeLine("resumed from step=40"), 40);
  EXPECT_EQ(ParseResumeLine("resumed from step=0\r"), 0);
  EXPECT_EQ(ParseResumeLine("resumed from step=x"), std::nullopt);
  EXPECT_EQ(ParseResumeLine("resumed from step=-3"), std::nullopt);
  EXPECT_EQ(ParseResumeLine("resumed from step="), std::nullopt);
  EXPECT_EQ(ParseResumeLine("step=40 loss=1"), std::nullopt);
  EXPECT_EQ(ParseResumeLine("we resumed from step=40"), std::nullopt);
}

}  // namespace
}  // namespace ringleader::local
