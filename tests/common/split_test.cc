#include "ringleader/common/split.h"

#include <gtest/gtest.h>

namespace ringleader {
namespace {

using Parts = std::vector<std::string>;

TEST(SplitTest, KeepsEveryPart) {
  EXPECT_EQ(Split("metadata.labels.app", '.'), (Parts{"metadata", "labels", "app"}));
  EXPECT_EQ(Split("a..b", '.'), (Parts{"a", "", "b"}));
  EXPECT_EQ(Split(".a.", '.'), (Parts{"", "a", ""}));
  EXPECT_EQ(Split("", '.'), (Parts{""}));
  EXPECT_EQ(Split("plain", '.'), (Parts{"plain"}));
}

TEST(SplitTest, NonEmptyDropsEmptyParts) {
  EXPECT_EQ(SplitNonEmpty("a,,b,", ','), (Parts{"a", "b"}));
  EXPECT_EQ(SplitNonEmpty("/api/v1/pods/", '/'), (Parts{"api", "v1", "pods"}));
  EXPECT_EQ(SplitNonEmpty("", ','), Parts{});
  EXPECT_EQ(SplitNonEmpty(",,,", ','), Parts{});
}

}  // namespace
}  // namespace ringleader
