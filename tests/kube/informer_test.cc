#include <gtest/gtest.h>

#include <condition_variable>
#include <future>

#include "ringleader/testing/fake_client.h"
#include "ringleader/kube/informer.h"

namespace ringleader::kube {
namespace {

using std::chrono::seconds;

Json Pod(const std::string& ns, const std::string& name, const std::string& owner_uid = "") {
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"labels", {{"app", name}}}}}};
  if (!owner_uid.empty()) {
    pod["metadata"]["ownerReferences"] = Json::array(
        {{{"apiVersion", "ringleader.dev/v1alpha1"}, {"kind", "TrainingJob"}, {"name", "tj"},
          {"uid", owner_uid}, {"controller", true}}});
  }
  return pod;
}

// Records handler calls as "add ns/name uid", "update ns/name", "delete ns/name uid".
class Recorder {
 public:
  EventHandlers Handlers() {
    EventHandlers h;
    h.on_add = [this](const ObjectPtr& o) { Push("add " + ObjectKeyOf(*o) + " " + Uid(*o)); };
    h.on_update = [this](const ObjectPtr& old_object, const ObjectPtr& o) {
      EXPECT_EQ(ObjectKeyOf(*old_object), ObjectKeyOf(*o));
      if (gate_) gate_(*o);
      Push("update " + ObjectKeyOf(*o));
    };
    h.on_delete = [this](const ObjectPtr& o) { Push("delete " + ObjectKeyOf(*o) + " " + Uid(*o)); };
    return h;
  }
  bool WaitFor(const std::string& entry) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, Clock::now() + seconds(10), [&] {
      return std::find(log_.begin(), log_.end(), entry) != log_.end();
    });
  }
  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
  }
  std::function<void(const Json&)> gate_;

 private:
  static std::string Uid(const Json& o) { return o["metadata"].value("uid", ""); }
  void Push(std::string s) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(std::move(s));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
};

// Polls `condition` until it holds or 10 s pass.
bool Eventually(const std::function<bool()>& condition) {
  auto deadline = Clock::now() + seconds(10);
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Starts `informer` and waits until its first list is cached and its watch is open.
void StartAndWatch(Informer& informer, FakeClient& client) {
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(10)));
  ASSERT_TRUE(client.WaitForWatches(1, Clock::now() + seconds(10)));
}

// Every test runs with a plain cache and with a compact (MessagePack-encoded) one.
class InformerTest : public ::testing::TestWithParam<bool> {};
class CacheTest : public ::testing::TestWithParam<bool> {};
std::string CacheKind(const ::testing::TestParamInfo<bool>& info) { return info.param ? "Compact" : "Plain"; }
INSTANTIATE_TEST_SUITE_P(Cache, InformerTest, ::testing::Bool(), CacheKind);
INSTANTIATE_TEST_SUITE_P(Cache, CacheTest, ::testing::Bool(), CacheKind);

InformerOptions PodOptions(bool compact) {
  InformerOptions options;
  options.compact = compact;
  options.gvr = PodsResource();
  options.min_backoff = std::chrono::milliseconds(1);
  options.max_backoff = std::chrono::milliseconds(20);
  options.page_size = 2;  // exercise paging in the initial list
  return options;
}

// Pod ns/a in a FakeClient, and an informer on pods whose events go to a Recorder.
struct WatchedPod {
  explicit WatchedPod(bool compact_cache) : informer(client, PodOptions(compact_cache)) {
    client.Seed(PodsResource(), Pod("ns", "a"));
    informer.AddEventHandlers(recorder.Handlers());
  }
  FakeClient client;
  Informer informer;
  Recorder recorder;
};

TEST_P(InformerTest, ListThenWatchIntoIndexedCache) {
  FakeClient client;
  client.Seed(PodsResource(), Pod("ns", "a", "owner-1"));
  client.Seed(PodsResource(), Pod("ns", "b", "owner-1"));
  client.Seed(PodsResource(), Pod("other", "c"));
  Informer informer(client, PodOptions(GetParam()));
  Recorder recorder;
  informer.AddEventHandlers(recorder.Handlers());
  informer.AddIndex("app", [](const Json& o) {
    return std::vector<std::string>{o["metadata"]["labels"].value("app", "")};
  });
  EXPECT_FALSE(informer.HasSynced());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(10)));
  EXPECT_EQ(informer.cache().Size(), 3u);
  EXPECT_EQ(informer.cache().ByIndex(kOwnerUidIndex, "owner-1").size(), 2u);
  EXPECT_EQ(informer.cache().ListNamespace("other").size(), 1u);
  EXPECT_EQ(informer.cache().ByIndex("app", "c").size(), 1u);
  ASSERT_TRUE(informer.cache().Get("ns", "a"));
  EXPECT_EQ(informer.cache().Get("ns/a")->at("metadata").at("name"), "a");
  EXPECT_EQ(recorder.Log().size(), 3u);

  ASSERT_TRUE(client.WaitForWatches(1, Clock::now() + seconds(10)));
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "d")).ok());
  ASSERT_TRUE(recorder.WaitFor("add ns/d " + client.Get(PodsResource(), "ns", "d")->at("metadata").at("uid").get<std::string>()));
  ASSERT_TRUE(client.Patch(PodsResource(), "ns", "a", PatchType::kMerge,
                           {{"metadata", {{"ownerReferences", nullptr}}}})
                  .ok());
  ASSERT_TRUE(recorder.WaitFor("update ns/a"));
  EXPECT_EQ(informer.cache().ByIndex(kOwnerUidIndex, "owner-1").size(), 1u);
  std::string uid_b = informer.cache().Get("ns", "b")->at("metadata").at("uid");
  ASSERT_TRUE(client.Delete(PodsResource(), "ns", "b").ok());
  ASSERT_TRUE(recorder.WaitFor("delete ns/b " + uid_b));
  EXPECT_FALSE(informer.cache().Get("ns", "b"));
  EXPECT_EQ(informer.LastResourceVersion(), std::to_string(client.CurrentResourceVersion()));
  EXPECT_EQ(informer.ListCount(), 1);
  informer.Stop();
  EXPECT_EQ(client.OpenWatches(), 0);
}

TEST_P(InformerTest, RewatchesFromLastResourceVersionAfterEof) {
  WatchedPod watched(GetParam());
  auto& [client, informer, recorder] = watched;
  StartAndWatch(informer, client);
  std::string rv = informer.LastResourceVersion();
  client.CloseWatches();  // the server ended the stream (timeout, restart, proxy)
  ASSERT_TRUE(Eventually([&] { return client.ActionsFor("watch", "pods").size() >= 2; }));
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "b")).ok());
  std::string uid_b = client.Get(PodsResource(), "ns", "b")->at("metadata").at("uid");
  ASSERT_TRUE(recorder.WaitFor("add ns/b " + uid_b));
  EXPECT_EQ(informer.ListCount(), 1) << "EOF rewatches, it does not relist";
  auto watches = client.ActionsFor("watch", "pods");
  ASSERT_GE(watches.size(), 2u);
  EXPECT_EQ(watches[1].body["resourceVersion"], rv);
}

TEST_P(InformerTest, RelistOnGoneDeliversMissedDeletesAndRecreates) {
  FakeClient client;
  client.Seed(PodsResource(), Pod("ns", "a"));
  client.Seed(PodsResource(), Pod("ns", "b"));
  client.Seed(PodsResource(), Pod("ns", "trigger"));
  Informer informer(client, PodOptions(GetParam()));
  Recorder recorder;
  // Hold the watch inside a handler while the world changes, so that the informer misses the
  // changes and must discover them by relisting after a 410.
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  bool gated = false;
  recorder.gate_ = [&](const Json& o) {
    if (o["metadata"]["name"] == "trigger" && !gated) {
      gated = true;
      entered.set_value();
      released.wait();
    }
  };
  informer.AddEventHandlers(recorder.Handlers());
  StartAndWatch(informer, client);
  std::string uid_a = informer.cache().Get("ns", "a")->at("metadata").at("uid");
  std::string uid_b_old = informer.cache().Get("ns", "b")->at("metadata").at("uid");
  ASSERT_TRUE(client.Patch(PodsResource(), "ns", "trigger", PatchType::kMerge,
                           {{"metadata", {{"labels", {{"x", "1"}}}}}})
                  .ok());
  entered.get_future().wait();
  recorder.Clear();
  ASSERT_TRUE(client.Delete(PodsResource(), "ns", "a").ok());
  ASSERT_TRUE(client.Delete(PodsResource(), "ns", "b").ok());
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "b")).ok());
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "c")).ok());
  std::string uid_b_new = client.Get(PodsResource(), "ns", "b")->at("metadata").at("uid");
  std::string uid_c = client.Get(PodsResource(), "ns", "c")->at("metadata").at("uid");
  client.Compact();       // the missed events are gone from the server's history
  client.CloseWatches();  // and the connection drops
  release.set_value();

  ASSERT_TRUE(recorder.WaitFor("add ns/c " + uid_c));
  ASSERT_TRUE(recorder.WaitFor("add ns/b " + uid_b_new));
  EXPECT_EQ(informer.ListCount(), 2);
  std::vector<std::string> log = recorder.Log();
  auto pos = [&](const std::string& entry) {
    return std::find(log.begin(), log.end(), entry) - log.begin();
  };
  EXPECT_LT(pos("delete ns/a " + uid_a), static_cast<long>(log.size()));
  // The recreate is a delete of the old uid followed by an add of the new one.
  EXPECT_LT(pos("delete ns/b " + uid_b_old), pos("add ns/b " + uid_b_new));
  EXPECT_EQ(std::count(log.begin(), log.end(), "update ns/trigger"), 1);
  EXPECT_EQ(informer.cache().Size(), 3u);
  EXPECT_EQ(informer.cache().Get("ns", "b")->at("metadata").at("uid"), uid_b_new);
  EXPECT_FALSE(informer.cache().Get("ns", "a"));
}

TEST_P(InformerTest, ExpiredWatchRelistsWithoutSpuriousEvents) {
  WatchedPod watched(GetParam());
  auto& [client, informer, recorder] = watched;
  StartAndWatch(informer, client);
  client.ExpireNextWatch("pods");
  client.CloseWatches();
  ASSERT_TRUE(Eventually([&] { return informer.ListCount() >= 2; }));
  EXPECT_EQ(informer.ListCount(), 2);
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "z")).ok());
  std::string uid_z = client.Get(PodsResource(), "ns", "z")->at("metadata").at("uid");
  ASSERT_TRUE(recorder.WaitFor("add ns/z " + uid_z));
  // Unchanged objects produce no events on relist.
  std::vector<std::string> log = recorder.Log();
  EXPECT_EQ(log.size(), 2u);
}

TEST_P(InformerTest, ListFailuresAreRetried) {
  FakeClient client;
  client.Seed(PodsResource(), Pod("ns", "a"));
  ApiStatus unavailable;
  unavailable.http_code = 503;
  client.InjectError("list", "pods", unavailable, 3);
  Informer informer(client, PodOptions(GetParam()));
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(10)));
  EXPECT_EQ(informer.cache().Size(), 1u);
  EXPECT_GE(client.ActionsFor("list", "pods").size(), 4u);
}

TEST_P(InformerTest, NamespaceAndSelectorScope) {
  FakeClient client;
  client.Seed(PodsResource(), Pod("ns", "a"));
  client.Seed(PodsResource(), Pod("ns", "b"));
  client.Seed(PodsResource(), Pod("other", "a"));
  InformerOptions options = PodOptions(GetParam());
  options.ns = "ns";
  options.label_selector = "app=a";
  Informer informer(client, options);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(10)));
  EXPECT_EQ(informer.cache().Keys(), std::vector<std::string>{"ns/a"});
}

TEST_P(InformerTest, ThrowingHandlerDoesNotStopTheInformer) {
  FakeClient client;
  Informer informer(client, PodOptions(GetParam()));
  EventHandlers throwing;
  throwing.on_add = [](const ObjectPtr&) { throw std::runtime_error("handler bug"); };
  informer.AddEventHandlers(throwing);
  Recorder recorder;
  informer.AddEventHandlers(recorder.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(10)));
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "a")).ok());
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "b")).ok());
  std::string uid_b = client.Get(PodsResource(), "ns", "b")->at("metadata").at("uid");
  ASSERT_TRUE(recorder.WaitFor("add ns/b " + uid_b));
  EXPECT_EQ(informer.cache().Size(), 2u);
}

// A transform that throws on some object leaves that object out (of the list and of the watch)
// but neither crashes the informer nor drops its watch.
TEST_P(InformerTest, ThrowingTransformLeavesTheObjectOut) {
  FakeClient client;
  client.Seed(PodsResource(), Pod("ns", "good"));
  client.Seed(PodsResource(), Pod("ns", "bad-listed"));
  InformerOptions options = PodOptions(GetParam());
  options.transform = [](Json& pod) {
    if (pod["metadata"]["name"].get<std::string>().rfind("bad", 0) == 0) throw std::runtime_error("transform bug");
  };
  Informer informer(client, options);
  Recorder recorder;
  informer.AddEventHandlers(recorder.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + seconds(10)));
  EXPECT_TRUE(informer.cache().Get("ns", "good"));
  EXPECT_FALSE(informer.cache().Get("ns", "bad-listed"));
  ASSERT_TRUE(client.WaitForWatches(1, Clock::now() + seconds(10)));
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "bad-watched")).ok());
  ASSERT_TRUE(client.Create(PodsResource(), "ns", Pod("ns", "after")).ok());
  std::string uid = client.Get(PodsResource(), "ns", "after")->at("metadata").at("uid");
  ASSERT_TRUE(recorder.WaitFor("add ns/after " + uid));
  EXPECT_FALSE(informer.cache().Get("ns", "bad-watched"));
  EXPECT_EQ(informer.cache().Size(), 2u);
  EXPECT_EQ(informer.ListCount(), 1) << "no relist";
  EXPECT_EQ(client.ActionsFor("watch", "pods").size(), 1u) << "the first watch carried on";
  informer.Stop();
}

TEST_P(InformerTest, MirrorHandlersObserveTheNewestAndForgetTheLast) {
  FakeClient client;
  client.Seed(PodsResource(), Pod("ns", "a"));
  Informer informer(client, PodOptions(GetParam()));
  std::mutex mu;
  std::map<std::string, std::string> mirror;  // key -> app label
  std::vector<std::string> forgotten;
  informer.AddEventHandlers(MirrorHandlers(
      [&](const Json& pod) {
        std::lock_guard<std::mutex> lock(mu);
        mirror[ObjectKeyOf(pod)] = pod["metadata"]["labels"].value("app", "");
      },
      [&](const Json& pod) {
        std::lock_guard<std::mutex> lock(mu);
        mirror.erase(ObjectKeyOf(pod));
        forgotten.push_back(ObjectKeyOf(pod) + " " + pod["metadata"]["labels"].value("app", ""));
      }));
  StartAndWatch(informer, client);
  Json changed = *informer.cache().Get("ns", "a");
  changed["metadata"]["labels"]["app"] = "renamed";
  ASSERT_TRUE(client.Update(PodsResource(), "ns", changed).ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return mirror.count("ns/a") && mirror["ns/a"] == "renamed";
  }));
  ASSERT_TRUE(client.Delete(PodsResource(), "ns", "a").ok());
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return mirror.empty();
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(forgotten, std::vector<std::string>{"ns/a renamed"});
  informer.Stop();
}

TEST_P(CacheTest, ReplaceRebuildsIndexes) {
  Cache cache(GetParam());
  EXPECT_EQ(cache.compact(), GetParam());
  cache.Upsert(std::make_shared<const Json>(Pod("ns", "a", "o1")));
  cache.Upsert(std::make_shared<const Json>(Pod("ns", "b", "o1")));
  EXPECT_EQ(cache.ByIndex(kOwnerUidIndex, "o1").size(), 2u);
  std::map<std::string, ObjectPtr> fresh;
  fresh["ns/c"] = std::make_shared<const Json>(Pod("ns", "c", "o2"));
  auto previous = cache.Replace(fresh);
  EXPECT_EQ(previous.size(), 2u);
  EXPECT_TRUE(cache.ByIndex(kOwnerUidIndex, "o1").empty());
  EXPECT_EQ(cache.ByIndex(kOwnerUidIndex, "o2").size(), 1u);
  ASSERT_TRUE(cache.Get("ns/c"));
  EXPECT_EQ(*cache.Get("ns/c"), Pod("ns", "c", "o2"));
  ObjectPtr removed = cache.Remove("ns/c");
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, Pod("ns", "c", "o2"));
  EXPECT_FALSE(cache.Remove("ns/c"));
  EXPECT_TRUE(cache.ByIndex(kOwnerUidIndex, "o2").empty());
  EXPECT_EQ(*previous.at("ns/a"), Pod("ns", "a", "o1"));
  EXPECT_FALSE(cache.Get("ns/c"));
  EXPECT_EQ(ControllerOwnerUid(Pod("ns", "x", "u")), "u");
  EXPECT_EQ(ControllerOwnerUid(Pod("ns", "x")), "");
}

// What an informer's list builds page by page: a Batch, indexed as objects are added (custom
// indexes included), swapped in at once; the previous content comes back as a Batch.
TEST_P(CacheTest, BatchReplacesTheContentAtOnce) {
  Cache cache(GetParam());
  cache.AddIndex("app", [](const Json& o) { return std::vector<std::string>{o["metadata"]["labels"].value("app", "")}; });
  cache.Upsert(std::make_shared<const Json>(Pod("ns", "old", "o1")));
  Cache::Batch batch = cache.NewBatch();
  batch.Add(std::make_shared<const Json>(Pod("ns", "b", "o2")));
  batch.Add(std::make_shared<const Json>(Pod("ns", "a", "o2")));
  Json newer_b = Pod("ns", "b", "o3");  // a key added twice: the last one counts, for every index
  batch.Add(std::make_shared<const Json>(newer_b));
  EXPECT_EQ(batch.Keys().size(), 2u);
  EXPECT_EQ(batch.Keys(), (std::vector<std::string>{"ns/a", "ns/b"}));
  EXPECT_TRUE(batch.Get("ns/a"));
  EXPECT_FALSE(batch.Get("ns/old"));
  ASSERT_TRUE(batch.Get("ns/b"));
  EXPECT_EQ(*batch.Get("ns/b"), newer_b);
  EXPECT_EQ(cache.Size(), 1u) << "nothing changes before Replace";

  Cache::Batch previous = cache.Replace(std::move(batch));
  EXPECT_EQ(previous.Keys(), (std::vector<std::string>{"ns/old"}));
  ASSERT_TRUE(previous.Get("ns/old"));
  EXPECT_EQ(*previous.Get("ns/old"), Pod("ns", "old", "o1"));
  EXPECT_EQ(cache.Keys(), (std::vector<std::string>{"ns/a", "ns/b"}));
  EXPECT_TRUE(cache.ByIndex(kOwnerUidIndex, "o1").empty());
  EXPECT_EQ(cache.ByIndex(kOwnerUidIndex, "o2").size(), 1u);
  EXPECT_EQ(cache.ByIndex(kOwnerUidIndex, "o3").size(), 1u);
  EXPECT_EQ(cache.ByIndex("app", "b").size(), 1u);
  EXPECT_TRUE(cache.ByIndex("app", "old").empty());
  EXPECT_EQ(cache.ListNamespace("ns").size(), 2u);
  EXPECT_EQ(*cache.Get("ns/b"), newer_b);
}

TEST_P(CacheTest, ObjectsComeBackAsTheyWentIn) {
  Cache cache(GetParam());
  Json pod = Pod("ns", "a", "o1");
  pod["spec"] = {{"nodeName", "n1"}, {"priority", -7}, {"weight", 0.5}, {"gates", Json::array()},
                 {"hostNetwork", false}, {"note", nullptr}, {"name", std::string(300, 'x')}};
  EXPECT_FALSE(cache.Upsert(std::make_shared<const Json>(pod)));
  ASSERT_TRUE(cache.Get("ns/a"));
  EXPECT_EQ(*cache.Get("ns/a"), pod);
  Json newer = pod;
  newer["spec"]["nodeName"] = "n2";
  ObjectPtr before = cache.Upsert(std::make_shared<const Json>(newer));
  ASSERT_TRUE(before);
  EXPECT_EQ(*before, pod);
  EXPECT_EQ(*cache.List().at(0), newer);
  EXPECT_EQ(*cache.ByIndex(kOwnerUidIndex, "o1").at(0), newer);
}

}  // namespace
}  // namespace ringleader::kube
