#include "ringleader/api/quantity.h"

#include <gtest/gtest.h>

namespace ringleader::api {
namespace {

TEST(QuantityTest, Parse) {
  struct Case { const char* text; std::optional<int64_t> milli; };
  const Case cases[] = {
      {"1", 1000}, {"500m", 500}, {"2.5", 2500}, {"0.1", 100}, {"1k", 1000000},
      {"1Ki", 1024000}, {"1Mi", 1048576000}, {"16Gi", 17179869184000}, {"1e3", 1000000},
      {"1G", 1000000000000}, {"0", 0}, {"", std::nullopt}, {"abc", std::nullopt}, {"1Zi", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ParseQuantityMilli(c.text), c.milli) << c.text;
}

TEST(QuantityTest, Format) {
  EXPECT_EQ(FormatQuantityMilli(2000), "2");
  EXPECT_EQ(FormatQuantityMilli(1500), "1500m");
}

TEST(QuantityTest, PodRequestsSumContainersMaxInit) {
  auto spec = nlohmann::json::parse(R"({
    "containers": [
      {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
      {"resources": {"limits": {"nvidia.com/gpu": 2, "cpu": "3"}, "requests": {"cpu": "500m"}}}],
    "initContainers": [{"resources": {"requests": {"cpu": "4"}}}]
  })");
  ResourceList r = PodRequests(spec);
  EXPECT_EQ(r["cpu"], 4000);  // init container's 4 > 1 + 0.5
  EXPECT_EQ(r["memory"], 1073741824000);
  EXPECT_EQ(r["nvidia.com/gpu"], 2000);  // limit stands in for the missing request
}

}  // namespace
}  // namespace ringleader::api
