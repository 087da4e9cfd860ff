#include <gtest/gtest.h>

#include "ringleader/kube/watch_decoder.h"

namespace ringleader::kube {
namespace {

const std::string kAdded =
    R"({"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"5"}}})";
const std::string kModified =
    R"({"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"6"}}})";
const std::string kBookmark =
    R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}})";
// Recorded from a real kube-apiserver watching from a compacted version.
const std::string kExpired =
    R"J({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "too old resource version: 1 (190)", "reason": "Expired", "code": 410}})J";

// Splits `stream` into reads at the given cut points and returns the decoded lines.
std::vector<std::string> Decode(const std::string& stream, const std::vector<size_t>& cuts) {
  WatchLineDecoder decoder;
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t cut : cuts) {
    EXPECT_TRUE(decoder.Feed(std::string_view(stream).substr(start, cut - start), &lines).ok());
    start = cut;
  }
  EXPECT_TRUE(decoder.Feed(std::string_view(stream).substr(start), &lines).ok());
  return lines;
}

TEST(WatchLineDecoderTest, SplitAndMergedReads) {
  const std::string stream = kAdded + "\n" + kModified + "\n" + kBookmark + "\n";
  struct Case {
    std::string name;
    std::vector<size_t> cuts;
  };
  std::vector<Case> cases = {
      {"one read", {}},
      {"split inside first line", {10, 20, 30}},
      {"split at newline", {kAdded.size(), kAdded.size() + 1}},
      {"split just before newline", {kAdded.size() - 1}},
  };
  Case every_byte{"one byte per read", {}};
  for (size_t i = 1; i < stream.size(); ++i) every_byte.cuts.push_back(i);
  cases.push_back(every_byte);
  for (const auto& c : cases) {
    std::vector<std::string> lines = Decode(stream, c.cuts);
    ASSERT_EQ(lines.size(), 3u) << c.name;
    EXPECT_EQ(lines[0], kAdded) << c.name;
    EXPECT_EQ(lines[1], kModified) << c.name;
    EXPECT_EQ(lines[2], kBookmark) << c.name;
  }
}

TEST(WatchLineDecoderTest, CrLfBlankLinesAndRemainder) {
  WatchLineDecoder decoder;
  std::vector<std::string> lines;
  ASSERT_TRUE(decoder.Feed(kAdded + "\r\n\n\r\n" + kModified, &lines).ok());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], kAdded);
  EXPECT_EQ(decoder.pending_bytes(), kModified.size());
  std::string rest;
  ASSERT_TRUE(decoder.TakeRemainder(&rest));
  EXPECT_EQ(rest, kModified);
  EXPECT_FALSE(decoder.TakeRemainder(&rest));
}

TEST(WatchLineDecoderTest, OverlongLineIsAnError) {
  WatchLineDecoder decoder(16);
  std::vector<std::string> lines;
  EXPECT_TRUE(decoder.Feed("0123456789", &lines).ok());
  Status s = decoder.Feed("0123456789", &lines);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(decoder.Feed("\n", &lines).ok());  // stays failed
  EXPECT_TRUE(lines.empty());
}

TEST(ParseWatchEventTest, Types) {
  struct Case {
    std::string line;
    WatchEventType type;
  };
  const std::vector<Case> cases = {
      {kAdded, WatchEventType::kAdded},
      {kModified, WatchEventType::kModified},
      {R"({"type":"DELETED","object":{"metadata":{"name":"a"}}})", WatchEventType::kDeleted},
      {kBookmark, WatchEventType::kBookmark},
      {kExpired, WatchEventType::kError},
  };
  for (const auto& c : cases) {
    StatusOr<WatchEvent> event = ParseWatchEvent(c.line);
    ASSERT_TRUE(event.ok()) << c.line << " " << event.status().ToString();
    EXPECT_EQ(event->type, c.type) << c.line;
    EXPECT_TRUE(event->object.is_object());
  }
  StatusOr<WatchEvent> added = ParseWatchEvent(kAdded);
  EXPECT_EQ(added->object["metadata"]["resourceVersion"], "5");
}

TEST(ParseWatchEventTest, ErrorEventMapsToGone) {
  StatusOr<WatchEvent> event = ParseWatchEvent(kExpired);
  ASSERT_TRUE(event.ok());
  Status status = WatchErrorToStatus(*event);
  EXPECT_EQ(status.code(), StatusCode::kGone);
  EXPECT_NE(status.message().find("too old resource version"), std::string::npos);
  StatusOr<WatchEvent> internal =
      ParseWatchEvent(R"({"type":"ERROR","object":{"kind":"Status","code":500,"message":"x"}})");
  EXPECT_EQ(WatchErrorToStatus(*internal).code(), StatusCode::kUnavailable);
  StatusOr<WatchEvent> no_code = ParseWatchEvent(R"({"type":"ERROR","object":{}})");
  EXPECT_EQ(WatchErrorToStatus(*no_code).code(), StatusCode::kUnavailable);
}

TEST(ParseWatchEventTest, GarbageIsRejected) {
  const std::vector<std::string> garbage = {
      "",
      "not json",
      "{",
      "[]",
      "42",
      R"({"object":{}})",
      R"({"type":"ADDED"})",
      R"({"type":"ADDED","object":"string"})",
      R"({"type":"ADDED","object":[]})",
      R"({"type":7,"object":{}})",
      R"({"type":"EXPLODED","object":{}})",
      std::string("{\"type\":\"ADDED\",\"object\":{\"a\":\"\xff\xfe\"}}"),
  };
  for (const auto& line : garbage) {
    StatusOr<WatchEvent> event = ParseWatchEvent(line);
    EXPECT_FALSE(event.ok()) << line;
    EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument) << line;
  }
}

}  // namespace
}  // namespace ringleader::kube
