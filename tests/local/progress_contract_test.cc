// The parser reads exactly what the runtime's stdout progress sink writes.
#include <gtest/gtest.h>

#include "ringleader/local/progress_line.h"
#include "ringleader/runtime/app/progress_sink.h"

namespace ringleader::local {
namespace {

TEST(ProgressLineContract, RoundTripsTheRuntimeFormat) {
  runtime::ProgressReport report{42, 200, 0.5, 1234.0};
  auto step = ParseProgressLine(runtime::FormatProgressLine(report));
  ASSERT_TRUE(step.has_value()) << runtime::FormatProgressLine(report);
  EXPECT_EQ(step->step, 42);
  EXPECT_EQ(step->total_steps, 200);
  EXPECT_NEAR(step->loss, 0.5, 1e-6);
  auto final_line = ParseProgressLine(runtime::FormatFinalLine(200, 0.25, "00ff"));
  ASSERT_TRUE(final_line.has_value()) << runtime::FormatFinalLine(200, 0.25, "00ff");
  EXPECT_TRUE(final_line->is_final);
  EXPECT_EQ(final_line->checksum, "00ff");
}

}  // namespace
}  // namespace ringleader::local
