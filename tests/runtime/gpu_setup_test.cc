// The pure decisions of the GPU path (gpu_setup.h), reachable without a GPU.
#include "ringleader/runtime/collectives/gpu_setup.h"

#include <gtest/gtest.h>

#include "ringleader/runtime/app/exit_codes.h"

namespace ringleader::runtime {
namespace {

TEST(ChooseCudaDeviceTest, Table) {
  struct Case {
    int local_rank, visible;
    int want;  // -1: configuration error
  };
  const Case cases[] = {
      {0, 1, 0}, {0, 8, 0}, {7, 8, 7},
      {3, 1, 0},   // the launcher gave this rank one CUDA_VISIBLE_DEVICES entry
      {2, 2, -1},  // more local ranks than GPUs
      {9, 8, -1}, {0, 0, -1}, {-1, 4, -1},
  };
  for (const Case& c : cases) {
    auto device = ChooseCudaDevice(c.local_rank, c.visible);
    if (c.want >= 0) {
      ASSERT_TRUE(device.ok()) << c.local_rank << "/" << c.visible << ": " << device.status().ToString();
      EXPECT_EQ(*device, c.want) << c.local_rank << "/" << c.visible;
    } else {
      ASSERT_FALSE(device.ok()) << c.local_rank << "/" << c.visible;
      EXPECT_EQ(device.status().code(), StatusCode::kInvalidArgument);
      // A configuration error is permanent: the operator must not restart the gang over it.
      EXPECT_EQ(ExitCodeForFailure(device.status()), kExitUsageError);
    }
  }
  EXPECT_NE(ChooseCudaDevice(2, 2).status().message().find("more local ranks than GPUs"), std::string::npos);
}

TEST(GpuClaimTest, RoundTripAndMalformed) {
  GpuClaim claim{3, "node-a/boot-1", "GPU-00ff"};
  auto back = DecodeGpuClaim(3, EncodeGpuClaim(claim));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rank, 3);
  EXPECT_EQ(back->host, "node-a/boot-1");
  EXPECT_EQ(back->device, "GPU-00ff");
  // A host may itself contain '|' (NCCL_HOSTID is free text): split at the first one.
  back = DecodeGpuClaim(1, "GPU-1|a|b");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->host, "a|b");
  for (const char* bad : {"", "GPU-1", "|host", "GPU-1|"}) {
    auto decoded = DecodeGpuClaim(5, bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInternal);
    EXPECT_NE(decoded.status().message().find("rank 5"), std::string::npos);
  }
}

TEST(CheckDistinctGpusTest, TwoRanksOnOneGpuIsAConfigurationError) {
  EXPECT_TRUE(CheckDistinctGpus({{0, "h1", "GPU-a"}, {1, "h1", "GPU-b"}, {2, "h2", "GPU-a"}}).ok());
  const Status shared = CheckDistinctGpus({{0, "h1", "GPU-a"}, {1, "h2", "GPU-a"}, {2, "h1", "GPU-a"}});
  ASSERT_FALSE(shared.ok());
  EXPECT_EQ(shared.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ExitCodeForFailure(shared), kExitUsageError);
  EXPECT_NE(shared.message().find("ranks 0 and 2"), std::string::npos) << shared.message();
  EXPECT_NE(shared.message().find("GPU-a"), std::string::npos);
}

TEST(HexTest, RoundTripAndRejects) {
  const std::string bytes("\x00\x01\x7f\x80\xff", 5);
  EXPECT_EQ(HexEncode(bytes), "00017f80ff");
  EXPECT_EQ(HexDecode("00017F80ff"), bytes);
  EXPECT_EQ(HexDecode(""), std::string());
  for (const char* bad : {"0", "0g", "zz", "+1", " 1", "-1"}) EXPECT_FALSE(HexDecode(bad).has_value()) << bad;
}

TEST(NcclBootstrapTest, IdRoundTrip) {
  std::string id(128, '\0');
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<char>(i * 37);
  auto back = DecodeNcclBootstrap(EncodeNcclBootstrap(id), id.size());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, id);
}

TEST(NcclBootstrapTest, RankZerosErrorReachesEveryRankWithItsCode) {
  const Status config = InvalidArgumentError("ranks 0 and 1 would both drive GPU-a");
  auto back = DecodeNcclBootstrap(EncodeNcclBootstrapError(config), 128);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.status().message().find("ranks 0 and 1 would both drive GPU-a"), std::string::npos);
  // A message may contain ':' itself.
  back = DecodeNcclBootstrap(EncodeNcclBootstrapError(InternalError("a:b:c")), 128);
  EXPECT_EQ(back.status().code(), StatusCode::kInternal);
  EXPECT_NE(back.status().message().find("a:b:c"), std::string::npos);
}

TEST(NcclBootstrapTest, MalformedRecordsAreErrorsNotExceptions) {
  const std::string good = EncodeNcclBootstrap(std::string(128, 'x'));
  for (const std::string& bad :
       {std::string(), std::string("garbage"), std::string("id:"), std::string("id:zz"),
        good.substr(0, good.size() - 1), good.substr(0, good.size() - 2), good + "00",
        std::string("id:") + std::string(256, 'g'), std::string("error:"), std::string("error:x:y"),
        std::string("error:0:ok is not an error"), std::string("error:99:unknown code"),
        std::string("error:3"), std::string("error:-1:m")}) {
    auto decoded = DecodeNcclBootstrap(bad, 128);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInternal) << bad;
    EXPECT_NE(decoded.status().message().find("malformed NCCL bootstrap record"), std::string::npos) << bad;
  }
}

TEST(RanksNotInCollectiveTest, NamesTheRanksThatDidNotReportThisCollective) {
  // Rank 1 (self) timed out in collective 7; rank 0 and 3 did too; rank 2 reported an older
  // collective, rank 4 nothing.
  const std::vector<std::optional<int64_t>> reported = {7, 7, 6, 7, std::nullopt};
  EXPECT_EQ(RanksNotInCollective(reported, 7, 1), (std::vector<int>{2, 4}));
  EXPECT_EQ(RanksNotInCollective({std::nullopt}, 1, 0), std::vector<int>{});
}

}  // namespace
}  // namespace ringleader::runtime
