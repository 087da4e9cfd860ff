#include "ringleader/testing/selectors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ringleader::testapi {
namespace {

using nlohmann::json;

struct LabelCase {
  std::string selector;
  std::map<std::string, std::string> labels;
  bool matches;
};

TEST(LabelSelectorTest, Matches) {
  const std::map<std::string, std::string> job = {{"ringleader.dev/job", "a"}, {"rank", "3"}};
  const std::vector<LabelCase> cases = {
      {"", job, true},
      {"ringleader.dev/job=a", job, true},
      {"ringleader.dev/job==a", job, true},
      {"ringleader.dev/job=b", job, false},
      {"ringleader.dev/job!=b", job, true},
      {"ringleader.dev/job!=a", job, false},
      {"missing!=a", job, true},  // != matches when the label is absent, as in k8s
      {"rank in (1,2,3)", job, true},
      {"rank in (1, 2)", job, false},
      {"rank notin (1,2)", job, true},
      {"rank notin (3)", job, false},
      {"missing notin (3)", job, true},
      {"rank", job, true},
      {"missing", job, false},
      {"!missing", job, true},
      {"!rank", job, false},
      {"ringleader.dev/job=a,rank in (3),!missing", job, true},
      {"ringleader.dev/job=a,rank=4", job, false},
      {"a=b", {}, false},
      {"!a", {}, true},
  };
  for (const auto& c : cases) {
    auto sel = LabelSelector::Parse(c.selector);
    ASSERT_TRUE(sel.ok()) << c.selector << ": " << sel.status().ToString();
    EXPECT_EQ(sel->Matches(c.labels), c.matches) << c.selector;
  }
}

TEST(LabelSelectorTest, ParsesRequirements) {
  auto sel = LabelSelector::Parse("a in (x, y),b!=z");
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->requirements().size(), 2u);
  EXPECT_EQ(sel->requirements()[0].key, "a");
  EXPECT_EQ(sel->requirements()[0].op, LabelSelector::Op::kIn);
  EXPECT_EQ(sel->requirements()[0].values, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(sel->requirements()[1].op, LabelSelector::Op::kNotEquals);
}

TEST(LabelSelectorTest, RejectsGarbage) {
  for (const std::string bad : {"a in ()", "a in (x", "a foo (x)", "=x", "a b c=d", ","}) {
    EXPECT_FALSE(LabelSelector::Parse(bad).ok()) << bad;
  }
}

TEST(LabelSelectorTest, MatchesJsonLabels) {
  auto sel = LabelSelector::Parse("app=x");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->MatchesJson(json{{"app", "x"}}));
  EXPECT_FALSE(sel->MatchesJson(json()));
  EXPECT_FALSE(sel->MatchesJson(json{{"app", "y"}}));
}

struct FieldCase {
  std::string selector;
  bool matches;
};

TEST(FieldSelectorTest, Matches) {
  const json pod = {{"metadata", {{"name", "p1"}, {"namespace", "default"}}},
                    {"spec", {{"nodeName", "node-0"}}},
                    {"status", {{"phase", "Running"}}}};
  const json event = {{"involvedObject", {{"kind", "TrainingJob"}, {"name", "j"}, {"uid", "u-1"}}}};
  const std::vector<FieldCase> pod_cases = {
      {"", true},
      {"metadata.name=p1", true},
      {"metadata.name==p1", true},
      {"metadata.name=p2", false},
      {"metadata.name!=p2", true},
      {"metadata.namespace=default,status.phase=Running", true},
      {"spec.nodeName=node-0", true},
      {"spec.nodeName=", false},
      {"status.phase!=Running", false},
      {"spec.schedulerName=", true},  // missing compares as ""
  };
  for (const auto& c : pod_cases) {
    auto sel = FieldSelector::Parse(c.selector);
    ASSERT_TRUE(sel.ok()) << c.selector;
    EXPECT_EQ(sel->Matches(pod), c.matches) << c.selector;
  }
  auto sel = FieldSelector::Parse("involvedObject.name=j,involvedObject.kind=TrainingJob,involvedObject.uid=u-1");
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(event));
  EXPECT_EQ(FieldSelector::Parse("metadata.name=x,spec.a!=b")->PinnedName(), "x");
  EXPECT_EQ(FieldSelector::Parse("metadata.name!=x")->PinnedName(), "");
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace ringleader::testapi
