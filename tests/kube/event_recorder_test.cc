#include "ringleader/kube/event_recorder.h"

#include <gtest/gtest.h>

#include <condition_variable>

#include "blocking_client.h"
#include "ringleader/testing/fake_client.h"

namespace ringleader::kube {
namespace {

using std::chrono::seconds;

Json Job() {
  return {{"apiVersion", "ringleader.dev/v1alpha1"},
          {"kind", "TrainingJob"},
          {"metadata", {{"name", "tj"}, {"namespace", "team"}, {"uid", "u-1"}, {"resourceVersion", "5"}}}};
}

TEST(EventRecorderTest, CreatesThenDeduplicates) {
  FakeClient client;
  EventRecorderOptions options;
  options.host = "node-1";
  EventRecorder recorder(client, options);
  recorder.Record(Job(), kEventTypeWarning, "GangTimeout", "3/4 workers scheduled");
  recorder.Record(Job(), kEventTypeWarning, "GangTimeout", "3/4 workers scheduled");
  recorder.Record(Job(), kEventTypeWarning, "GangTimeout", "3/4 workers scheduled");
  recorder.Record(Job(), kEventTypeNormal, "Created", "created pod tj-worker-0");
  ASSERT_TRUE(recorder.Flush(Clock::now() + seconds(10)));
  EXPECT_EQ(recorder.created(), 2u);
  EXPECT_EQ(recorder.patched(), 2u);
  EXPECT_EQ(recorder.failed(), 0u);
  Json events = client.List(EventsResource(), "team").value()["items"];
  ASSERT_EQ(events.size(), 2u);
  const Json* gang = nullptr;
  for (const Json& e : events) {
    if (e["reason"] == "GangTimeout") gang = &e;
  }
  ASSERT_NE(gang, nullptr);
  EXPECT_EQ((*gang)["count"], 3);
  EXPECT_EQ((*gang)["type"], "Warning");
  EXPECT_EQ((*gang)["message"], "3/4 workers scheduled");
  EXPECT_EQ((*gang)["involvedObject"]["kind"], "TrainingJob");
  EXPECT_EQ((*gang)["involvedObject"]["uid"], "u-1");
  EXPECT_EQ((*gang)["involvedObject"]["namespace"], "team");
  EXPECT_EQ((*gang)["source"]["component"], "ringleader-operator");
  EXPECT_EQ((*gang)["source"]["host"], "node-1");
  EXPECT_EQ((*gang)["metadata"]["namespace"], "team");
  EXPECT_EQ(client.ActionsFor("patch", "events").size(), 2u);
}

TEST(EventRecorderTest, RecreatesWhenTheEventExpired) {
  FakeClient client;
  EventRecorder recorder(client);
  recorder.Record(Job(), kEventTypeNormal, "Running", "all workers running");
  ASSERT_TRUE(recorder.Flush(Clock::now() + seconds(10)));
  Json events = client.List(EventsResource(), "team").value()["items"];
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(client.Delete(EventsResource(), "team", events[0]["metadata"]["name"]).ok());
  recorder.Record(Job(), kEventTypeNormal, "Running", "all workers running");
  ASSERT_TRUE(recorder.Flush(Clock::now() + seconds(10)));
  EXPECT_EQ(recorder.created(), 2u);
  EXPECT_EQ(client.List(EventsResource(), "team").value()["items"].size(), 1u);
}

TEST(EventRecorderTest, ZeroWindowDisablesDedup) {
  FakeClient client;
  EventRecorderOptions options;
  options.dedup_window = Duration{0};
  EventRecorder recorder(client, options);
  recorder.Record(Job(), kEventTypeNormal, "R", "m");
  recorder.Record(Job(), kEventTypeNormal, "R", "m");
  ASSERT_TRUE(recorder.Flush(Clock::now() + seconds(10)));
  EXPECT_EQ(recorder.created(), 2u);
}

TEST(EventRecorderTest, BoundedQueueNeverBlocksTheCaller) {
  FakeClient fake;
  testing::BlockingClient client(fake, "create");  // fills the recorder's queue
  EventRecorderOptions options;
  options.queue_capacity = 2;
  EventRecorder recorder(client, options);
  recorder.Record(Job(), kEventTypeNormal, "R", "0");  // taken by the writer, which blocks
  ASSERT_TRUE(client.WaitBlocked());
  recorder.Record(Job(), kEventTypeNormal, "R", "1");
  recorder.Record(Job(), kEventTypeNormal, "R", "2");
  recorder.Record(Job(), kEventTypeNormal, "R", "3");  // queue full: dropped
  recorder.Record(Job(), kEventTypeNormal, "R", "4");  // dropped
  EXPECT_EQ(recorder.dropped(), 2u);
  client.Release();
  ASSERT_TRUE(recorder.Flush(Clock::now() + seconds(10)));
  EXPECT_EQ(recorder.created(), 3u);
  EXPECT_EQ(fake.List(EventsResource(), "team").value()["items"].size(), 3u);
}

}  // namespace
}  // namespace ringleader::kube
