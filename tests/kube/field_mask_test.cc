#include "ringleader/kube/field_mask.h"

#include <gtest/gtest.h>

#include "ringleader/kube/watch_decoder.h"

namespace ringleader::kube {
namespace {

FieldMask MaskOf(const char* spelling) {
  auto mask = FieldMask::Parse(spelling);
  EXPECT_TRUE(mask.ok()) << mask.status().ToString();
  return mask.ok() ? std::move(mask).value() : FieldMask();
}

Json Decode(const Json& doc, const FieldMask& mask) {
  auto decoded = DecodeMasked(doc.dump(), mask);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
  return decoded.ok() ? std::move(decoded).value() : Json();
}

TEST(FieldMaskTest, KeepsNamedMembersWholeAndDropsTheRest) {
  Json doc = {{"a", {{"x", 1}, {"y", {{"deep", true}}}}}, {"b", "drop"}, {"c", Json::array({1, 2})}};
  EXPECT_EQ(Decode(doc, MaskOf("a")), (Json{{"a", doc["a"]}}));
  EXPECT_EQ(Decode(doc, MaskOf("a(y),c")), (Json{{"a", {{"y", {{"deep", true}}}}}, {"c", Json::array({1, 2})}}));
  EXPECT_EQ(Decode(doc, MaskOf("nothing")), Json::object());
  EXPECT_EQ(Decode(doc, FieldMask()), doc) << "the default mask keeps everything";
}

TEST(FieldMaskTest, ArraysAreTransparent) {
  Json doc = {{"items", Json::array({{{"name", "a"}, {"env", Json::array({1})}},
                                     {{"name", "b"}, {"image", "i"}},
                                     Json::array({{{"name", "nested"}, {"x", 1}}}),
                                     "scalar"})}};
  EXPECT_EQ(Decode(doc, MaskOf("items(name)")),
            (Json{{"items", Json::array({{{"name", "a"}}, {{"name", "b"}}, Json::array({{{"name", "nested"}}}),
                                         "scalar"})}}));
}

TEST(FieldMaskTest, ScalarsWhereAnObjectWasExpectedAreKept) {
  Json doc = {{"spec", "oops"}, {"status", nullptr}, {"n", 1.5}};
  EXPECT_EQ(Decode(doc, MaskOf("spec(nodeName),status(phase),n(x)")), doc);
}

TEST(FieldMaskTest, KeepsEveryJsonTypeExactly) {
  Json doc = {{"s", "text with \"quotes\" and \\u00e9 é"}, {"i", -42}, {"u", 18446744073709551615ull}, {"f", 0.25},
              {"t", true}, {"z", nullptr}, {"o", Json::object()}, {"e", Json::array()}};
  EXPECT_EQ(Decode(doc, FieldMask()), doc);
  EXPECT_EQ(Decode(doc, MaskOf("s,i,u,f,t,z,o,e")), doc);
}

TEST(FieldMaskTest, UnionKeepsWhatEitherKeeps) {
  FieldMask both = FieldMask::Union(MaskOf("a(x),b"), MaskOf("a(y),c(q)"));
  Json doc = {{"a", {{"x", 1}, {"y", 2}, {"z", 3}}}, {"b", {{"k", 1}}}, {"c", {{"q", 1}, {"r", 2}}}, {"d", 4}};
  EXPECT_EQ(Decode(doc, both), (Json{{"a", {{"x", 1}, {"y", 2}}}, {"b", {{"k", 1}}}, {"c", {{"q", 1}}}}));
  EXPECT_TRUE(FieldMask::Union(MaskOf("a"), FieldMask()).keeps_all());
}

TEST(FieldMaskTest, MalformedSpellingsNameTheProblem) {
  struct Case {
    const char* spelling;
    const char* problem;
  };
  for (const Case& c : std::vector<Case>{{"", "expected a member name"},
                                         {"a,", "expected a member name"},
                                         {"a(b", "expected ')'"},
                                         {"a)", "unexpected ')'"},
                                         {"a(b))", "unexpected ')'"},
                                         {"a(b) c", "expected ',' or ')'"},
                                         {"a,b,a", "member \"a\" named twice"},
                                         {"a()", "expected a member name"}}) {
    auto mask = FieldMask::Parse(c.spelling);
    ASSERT_FALSE(mask.ok()) << c.spelling;
    EXPECT_EQ(mask.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(mask.status().message().find(c.problem), std::string::npos) << c.spelling << ": " << mask.status().message();
  }
  EXPECT_TRUE(FieldMask::Parse(" a ( b , c ( d ) ) , e ").ok()) << "spaces are allowed between tokens";
}

TEST(FieldMaskTest, NotJsonIsAnError) {
  for (const char* text : {"", "{", "{\"a\":}", "{\"a\":1} trailing", "[1,2"}) {
    auto decoded = DecodeMasked(text, MaskOf("a"));
    EXPECT_FALSE(decoded.ok()) << text;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(FieldMaskTest, WatchEventsKeepTypeStatusAndBookmarkVersion) {
  FieldMask events = WatchEventMask(MaskOf("metadata(name),spec(nodeName)"));
  auto added = ParseWatchEvent(
      R"({"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","resourceVersion":"5","managedFields":[{}]},"spec":{"nodeName":"n","containers":[{"env":[]}]}}})",
      &events);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->type, WatchEventType::kAdded);
  EXPECT_EQ(added->object, (Json{{"kind", "Pod"}, {"apiVersion", "v1"}, {"metadata", {{"name", "p"}, {"resourceVersion", "5"}}},
                                 {"spec", {{"nodeName", "n"}}}}));
  auto bookmark = ParseWatchEvent(R"({"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}})", &events);
  ASSERT_TRUE(bookmark.ok());
  EXPECT_EQ(bookmark->object["metadata"]["resourceVersion"], "9");
  auto error = ParseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}})",
      &events);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(WatchErrorToStatus(*error).code(), StatusCode::kGone);
  EXPECT_NE(WatchErrorToStatus(*error).message().find("too old"), std::string::npos);
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"ADDED","object":{)", &events).ok());
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"ADDED","object":"x"})", &events).ok());
}

TEST(FieldMaskTest, ListsKeepTheirMetadataAndEachItemsVersion) {
  Json list = {{"kind", "PodList"}, {"apiVersion", "v1"},
               {"metadata", {{"resourceVersion", "100"}, {"continue", "tok"}}},
               {"items", Json::array({{{"metadata", {{"name", "a"}, {"resourceVersion", "7"}, {"uid", "u"}}},
                                       {"spec", {{"nodeName", "n"}, {"volumes", Json::array()}}}}})}};
  Json decoded = Decode(list, ListMask(MaskOf("metadata(name),spec(nodeName)")));
  EXPECT_EQ(decoded["metadata"], list["metadata"]);
  EXPECT_EQ(decoded["items"][0], (Json{{"metadata", {{"name", "a"}, {"resourceVersion", "7"}}}, {"spec", {{"nodeName", "n"}}}}));
}

}  // namespace
}  // namespace ringleader::kube
