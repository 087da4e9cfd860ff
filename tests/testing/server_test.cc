// TestApiServer behaviour over HTTP: CRUD semantics, watch, garbage collection, faults.

#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ringleader/testing/test_api_server.h"
#include "test_http.h"

namespace ringleader::testapi {
namespace {

using nlohmann::json;
using test::Http;
using test::HttpResult;
using test::Watch;
using test::WaitFor;

// The Widget CRD the kubectl end-to-end script installs too.
std::string WidgetCrd() {
  std::ifstream in(std::string(RINGLEADER_SOURCE_DIR) + "/tests/testing/testdata/widget-crd.yaml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(TestApiServerOptions options = {}) {
    server_ = std::make_unique<TestApiServer>(options);
    ASSERT_TRUE(server_->Start().ok());
    const std::string crd = WidgetCrd();
    ASSERT_FALSE(crd.empty()) << "tests/testing/testdata/widget-crd.yaml is missing";
    ASSERT_TRUE(server_->AddCrdsFromYaml(crd).ok());
    base_ = server_->url();
  }
  void SetUp() override { StartServer(); }
  void TearDown() override { server_->Stop(); }

  std::string Widgets(const std::string& suffix = "") const {
    return base_ + "/apis/example.dev/v1alpha1/namespaces/default/widgets" + suffix;
  }
  std::string Pods(const std::string& suffix = "") const { return base_ + "/api/v1/namespaces/default/pods" + suffix; }
  HttpResult CreateWidget(const std::string& name, int size, const json& extra_meta = json::object()) {
    json meta = extra_meta;
    meta["name"] = name;
    return Http("POST", Widgets(), json{{"apiVersion", "example.dev/v1alpha1"}, {"kind", "Widget"},
                                        {"metadata", meta}, {"spec", {{"size", size}}}}.dump());
  }
  static json Pod(const std::string& name, const json& extra = json::object()) {
    json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}},
                {"spec", {{"containers", {{{"name", "main"}, {"image", "busybox"}}}}}}};
    pod.merge_patch(extra);
    return pod;
  }

  std::unique_ptr<TestApiServer> server_;
  std::string base_;
};

TEST_F(ServerTest, CreateGetUpdateGenerationAndStatus) {
  HttpResult created = CreateWidget("w1", 3);
  ASSERT_EQ(created.status, 201) << created.body;
  json w = created.Json();
  EXPECT_EQ(w["metadata"]["generation"], 1);
  EXPECT_FALSE(w["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE(w["metadata"]["creationTimestamp"].get<std::string>().empty());
  EXPECT_EQ(w["spec"]["mode"], "fast");  // default applied
  std::string rv1 = w["metadata"]["resourceVersion"];

  w["spec"]["size"] = 4;
  HttpResult updated = Http("PUT", Widgets("/w1"), w.dump());
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Json()["metadata"]["generation"], 2);
  EXPECT_GT(std::stoull(updated.Json()["metadata"]["resourceVersion"].get<std::string>()), std::stoull(rv1));

  // Stale resourceVersion: 409 Conflict.
  HttpResult stale = Http("PUT", Widgets("/w1"), w.dump());
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.Json()["reason"], "Conflict");

  // Status through /status: generation unchanged. Status on the main resource: ignored.
  json s = updated.Json();
  s["status"] = {{"phase", "Running"}};
  HttpResult status = Http("PUT", Widgets("/w1/status"), s.dump());
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(status.Json()["metadata"]["generation"], 2);
  EXPECT_EQ(status.Json()["status"]["phase"], "Running");
  HttpResult hack = Http("PATCH", Widgets("/w1"), R"({"status":{"phase":"Hacked"}})", "application/merge-patch+json");
  ASSERT_EQ(hack.status, 200);
  EXPECT_EQ(hack.Json()["status"]["phase"], "Running");
  EXPECT_EQ(hack.Json()["metadata"]["resourceVersion"], status.Json()["metadata"]["resourceVersion"]);  // no-op
  // /status ignores spec changes.
  HttpResult spec_via_status =
      Http("PATCH", Widgets("/w1/status"), R"({"spec":{"size":99},"status":{"phase":"Done"}})", "application/merge-patch+json");
  ASSERT_EQ(spec_via_status.status, 200);
  EXPECT_EQ(spec_via_status.Json()["spec"]["size"], 4);
  EXPECT_EQ(spec_via_status.Json()["status"]["phase"], "Done");

  // JSON patch; strategic merge is refused for custom resources (415).
  HttpResult jp = Http("PATCH", Widgets("/w1"), R"([{"op":"replace","path":"/spec/size","value":5}])",
                       "application/json-patch+json");
  ASSERT_EQ(jp.status, 200) << jp.body;
  EXPECT_EQ(jp.Json()["metadata"]["generation"], 3);
  EXPECT_EQ(Http("PATCH", Widgets("/w1"), R"({"spec":{"size":6}})", "application/strategic-merge-patch+json").status, 415);

  HttpResult dup = CreateWidget("w1", 3);
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.Json()["reason"], "AlreadyExists");
  HttpResult missing = Http("GET", Widgets("/nope"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Json()["reason"], "NotFound");
  EXPECT_EQ(missing.Json()["details"]["kind"], "widgets");
}

TEST_F(ServerTest, SchemaViolationsAndPruning) {
  HttpResult bad = CreateWidget("bad", 0);
  ASSERT_EQ(bad.status, 422);
  EXPECT_EQ(bad.Json()["reason"], "Invalid");
  EXPECT_EQ(bad.Json()["details"]["causes"][0]["field"], "spec.size");
  HttpResult pruned = Http("POST", Widgets(), R"({"apiVersion":"example.dev/v1alpha1","kind":"Widget",
      "metadata":{"name":"p"},"spec":{"size":1,"bogus":true},"status":{"phase":"Preset"}})");
  ASSERT_EQ(pruned.status, 201);
  EXPECT_FALSE(pruned.Json()["spec"].contains("bogus"));
  EXPECT_FALSE(pruned.Json().contains("status"));  // status is reset on create
  HttpResult generated = Http("POST", Widgets(), R"({"metadata":{"generateName":"gen-"},"spec":{"size":1}})");
  ASSERT_EQ(generated.status, 201);
  EXPECT_EQ(generated.Json()["metadata"]["name"].get<std::string>().rfind("gen-", 0), 0u);
  EXPECT_EQ(generated.Json()["metadata"]["name"].get<std::string>().size(), 9u);
}

TEST_F(ServerTest, ListSelectorsAndPagination) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(CreateWidget("w" + std::to_string(i), 1, {{"labels", {{"idx", std::to_string(i)}, {"even", i % 2 == 0 ? "yes" : "no"}}}}).status, 201);
  }
  json list = Http("GET", Widgets("?labelSelector=even%3Dyes")).Json();
  EXPECT_EQ(list["kind"], "WidgetList");
  EXPECT_EQ(list["items"].size(), 3u);
  EXPECT_EQ(Http("GET", Widgets("?labelSelector=idx%20in%20(1,2),even!%3Dyes")).Json()["items"].size(), 1u);
  EXPECT_EQ(Http("GET", Widgets("?fieldSelector=metadata.name%3Dw3")).Json()["items"].size(), 1u);
  EXPECT_EQ(Http("GET", Widgets("?labelSelector=in%20in")).status, 400);

  std::vector<std::string> names;
  std::string cont;
  int pages = 0;
  do {
    json page = Http("GET", Widgets("?limit=2" + (cont.empty() ? "" : "&continue=" + cont))).Json();
    for (const auto& item : page["items"]) names.push_back(item["metadata"]["name"]);
    cont = page["metadata"].value("continue", "");
    ++pages;
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"w0", "w1", "w2", "w3", "w4"}));

  // Cross-namespace list of a namespaced resource.
  EXPECT_EQ(Http("GET", base_ + "/apis/example.dev/v1alpha1/widgets").Json()["items"].size(), 5u);
}

TEST_F(ServerTest, WatchFromResourceVersionAndSelectorTransitions) {
  std::string rv = Http("GET", Widgets()).Json()["metadata"]["resourceVersion"];
  ASSERT_EQ(CreateWidget("a", 1, {{"labels", {{"team", "x"}}}}).status, 201);
  ASSERT_EQ(Http("PATCH", Widgets("/a"), R"({"spec":{"size":2}})", "application/merge-patch+json").status, 200);
  ASSERT_EQ(Http("PATCH", Widgets("/a"), R"({"metadata":{"labels":{"team":"y"}}})", "application/merge-patch+json").status, 200);
  ASSERT_EQ(Http("DELETE", Widgets("/a")).status, 200);

  auto all = Watch(Widgets("?watch=1&resourceVersion=" + rv), [](const auto& e) { return e.size() >= 4; });
  ASSERT_EQ(all.events.size(), 4u);
  std::vector<std::string> types;
  for (const auto& e : all.events) types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "MODIFIED", "DELETED"}));

  // Through a label selector the relabel looks like a delete.
  auto team_x = Watch(Widgets("?watch=true&labelSelector=team%3Dx&resourceVersion=" + rv),
                      [](const auto& e) { return e.size() >= 3; }, std::chrono::milliseconds(1500));
  types.clear();
  for (const auto& e : team_x.events) types.push_back(e["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));

  // Watch without resourceVersion: synthetic ADDED for what exists.
  ASSERT_EQ(CreateWidget("b", 1).status, 201);
  auto fresh = Watch(Widgets("?watch=1&fieldSelector=metadata.name%3Db"), [](const auto& e) { return !e.empty(); });
  ASSERT_EQ(fresh.events.size(), 1u);
  EXPECT_EQ(fresh.events[0]["type"], "ADDED");
  EXPECT_EQ(fresh.events[0]["object"]["metadata"]["name"], "b");
}

TEST_F(ServerTest, WatchTooOldResourceVersionGets410) {
  server_->Stop();
  TestApiServerOptions options;
  options.watch_history = 3;
  StartServer(options);
  std::string rv = Http("GET", Widgets()).Json()["metadata"]["resourceVersion"];
  for (int i = 0; i < 6; ++i) ASSERT_EQ(CreateWidget("w" + std::to_string(i), 1).status, 201);
  auto expired = Watch(Widgets("?watch=1&resourceVersion=" + rv), [](const auto&) { return false; });
  EXPECT_EQ(expired.status, 200);
  EXPECT_TRUE(expired.ended_by_server);
  ASSERT_EQ(expired.events.size(), 1u);
  EXPECT_EQ(expired.events[0]["type"], "ERROR");
  EXPECT_EQ(expired.events[0]["object"]["code"], 410);
  EXPECT_EQ(expired.events[0]["object"]["reason"], "Expired");
  // Within the kept history it resumes.
  std::string recent = std::to_string(std::stoull(rv) + 4);
  auto resumed = Watch(Widgets("?watch=1&resourceVersion=" + recent), [](const auto& e) { return e.size() >= 2; });
  EXPECT_EQ(resumed.events.size(), 2u);
  EXPECT_EQ(resumed.events[0]["type"], "ADDED");
}

TEST_F(ServerTest, WatchBookmarksAndTimeout) {
  server_->Stop();
  TestApiServerOptions options;
  options.bookmark_interval = std::chrono::milliseconds(50);
  StartServer(options);
  auto w = Watch(Widgets("?watch=1&allowWatchBookmarks=true&timeoutSeconds=5"),
                 [](const auto& e) { return !e.empty() && e.back()["type"] == "BOOKMARK"; });
  ASSERT_FALSE(w.events.empty());
  EXPECT_EQ(w.events.back()["object"]["kind"], "Widget");
  EXPECT_FALSE(w.events.back()["object"]["metadata"]["resourceVersion"].get<std::string>().empty());
  auto timed = Watch(Widgets("?watch=1&timeoutSeconds=1"), [](const auto&) { return false; });
  EXPECT_TRUE(timed.ended_by_server);
}

TEST_F(ServerTest, CascadingDeleteAndFinalizers) {
  auto make_children = [&](const std::string& owner) {
    json w = Http("GET", Widgets("/" + owner)).Json();
    for (int i = 0; i < 2; ++i) {
      json pod = Pod(owner + "-" + std::to_string(i),
                     {{"metadata", {{"labels", {{"owner", owner}}},
                                    {"ownerReferences", {{{"apiVersion", "example.dev/v1alpha1"}, {"kind", "Widget"},
                                                          {"name", owner}, {"uid", w["metadata"]["uid"]},
                                                          {"controller", true}, {"blockOwnerDeletion", true}}}}}}});
      ASSERT_EQ(Http("POST", Pods(), pod.dump()).status, 201);
    }
  };
  auto pods_of = [&](const std::string& owner) {
    return Http("GET", Pods("?labelSelector=owner%3D" + owner)).Json()["items"].size();
  };
  // Background (default).
  ASSERT_EQ(CreateWidget("bg", 1).status, 201);
  make_children("bg");
  ASSERT_EQ(pods_of("bg"), 2u);
  HttpResult del = Http("DELETE", Widgets("/bg"));
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(del.Json()["kind"], "Status");
  EXPECT_EQ(del.Json()["status"], "Success");
  EXPECT_EQ(pods_of("bg"), 0u);

  // Foreground: the answer shows deletionTimestamp + foregroundDeletion; all gone after GC.
  ASSERT_EQ(CreateWidget("fg", 1).status, 201);
  make_children("fg");
  HttpResult fg = Http("DELETE", Widgets("/fg?propagationPolicy=Foreground"));
  ASSERT_EQ(fg.status, 200);
  EXPECT_TRUE(fg.Json()["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(fg.Json()["metadata"]["finalizers"], json({"foregroundDeletion"}));
  EXPECT_EQ(pods_of("fg"), 0u);
  EXPECT_EQ(Http("GET", Widgets("/fg")).status, 404);

  // Orphan: children stay, without the ownerReference.
  ASSERT_EQ(CreateWidget("or", 1).status, 201);
  make_children("or");
  ASSERT_EQ(Http("DELETE", Widgets("/or"), R"({"propagationPolicy":"Orphan"})").status, 200);
  json orphans = Http("GET", Pods("?labelSelector=owner%3Dor")).Json();
  ASSERT_EQ(orphans["items"].size(), 2u);
  EXPECT_FALSE(orphans["items"][0]["metadata"].contains("ownerReferences"));

  // Finalizers hold the object until removed.
  ASSERT_EQ(CreateWidget("fin", 1, {{"finalizers", {"example.dev/cleanup"}}}).status, 201);
  HttpResult held = Http("DELETE", Widgets("/fin"));
  ASSERT_EQ(held.status, 200);
  EXPECT_TRUE(held.Json()["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ(Http("GET", Widgets("/fin")).status, 200);
  ASSERT_EQ(Http("PATCH", Widgets("/fin"), R"({"metadata":{"finalizers":null}})", "application/merge-patch+json").status, 200);
  EXPECT_EQ(Http("GET", Widgets("/fin")).status, 404);

  // Preconditions.
  ASSERT_EQ(CreateWidget("pre", 1).status, 201);
  HttpResult wrong_uid = Http("DELETE", Widgets("/pre"), R"({"preconditions":{"uid":"not-it"}})");
  EXPECT_EQ(wrong_uid.status, 409);
  EXPECT_EQ(Http("GET", Widgets("/pre")).status, 200);
}

TEST_F(ServerTest, PodValidationGatesAndStrategicMerge) {
  HttpResult bad = Http("POST", Pods(), R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[]}})");
  ASSERT_EQ(bad.status, 422);
  std::vector<std::string> fields;
  const json bad_body = bad.Json();
  for (const auto& c : bad_body["details"]["causes"]) fields.push_back(c["field"]);
  EXPECT_EQ(fields, (std::vector<std::string>{"metadata.name", "spec.containers"}));
  // Malformed objects are the client's error, not a crash.
  EXPECT_EQ(Http("POST", Pods(), R"({"metadata":{"name":"m"},"spec":{"containers":[{"name":5,"image":"x"}]}})").status, 400);
  EXPECT_EQ(Http("POST", Pods(), R"({"metadata":{"name":7},"spec":{}})").status, 400);
  HttpResult no_image = Http("POST", Pods(), R"({"metadata":{"name":"x"},"spec":{"containers":[{"name":"c"}]}})");
  ASSERT_EQ(no_image.status, 422);
  EXPECT_EQ(no_image.Json()["details"]["causes"][0]["field"], "spec.containers[0].image");

  json gated = Pod("gated", {{"spec", {{"schedulingGates", {{{"name", "ringleader.dev/gang"}}}}}}});
  HttpResult created = Http("POST", Pods(), gated.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Json()["status"]["phase"], "Pending");
  HttpResult add_gate = Http("PATCH", Pods("/gated"),
                             R"({"spec":{"schedulingGates":[{"name":"ringleader.dev/gang"},{"name":"other"}]}})",
                             "application/merge-patch+json");
  EXPECT_EQ(add_gate.status, 422);
  EXPECT_EQ(Http("PATCH", Pods("/gated"), R"({"spec":{"schedulingGates":null}})", "application/merge-patch+json").status, 200);

  json two = Pod("two", {{"spec", {{"containers", {{{"name", "a"}, {"image", "x"}}, {{"name", "b"}, {"image", "y"}}}}}}});
  ASSERT_EQ(Http("POST", Pods(), two.dump()).status, 201);
  HttpResult smp = Http("PATCH", Pods("/two"), R"({"metadata":{"labels":{"l":"v"}},"spec":{"containers":[{"name":"b","image":"z"}]}})",
                        "application/strategic-merge-patch+json");
  ASSERT_EQ(smp.status, 200) << smp.body;
  ASSERT_EQ(smp.Json()["spec"]["containers"].size(), 2u);
  EXPECT_EQ(smp.Json()["spec"]["containers"][1]["image"], "z");
  EXPECT_EQ(smp.Json()["metadata"]["labels"]["l"], "v");
}

TEST_F(ServerTest, FaultsAndRequestLog) {
  ASSERT_EQ(CreateWidget("f", 1).status, 201);
  server_->ClearRequests();
  server_->FailNextRequests({2, 3, "list", "widgets"});
  HttpResult throttled = Http("GET", Widgets());
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.retry_after, "3");
  EXPECT_EQ(throttled.Json()["reason"], "TooManyRequests");
  EXPECT_EQ(Http("GET", Widgets("/f")).status, 200);  // a get does not match
  EXPECT_EQ(Http("GET", Widgets()).status, 429);
  EXPECT_EQ(Http("GET", Widgets()).status, 200);

  server_->ConflictNextUpdates({1, "widgets", "status"});
  EXPECT_EQ(Http("PATCH", Widgets("/f"), R"({"spec":{"size":2}})", "application/merge-patch+json").status, 200);
  EXPECT_EQ(Http("PATCH", Widgets("/f/status"), R"({"status":{"phase":"A"}})", "application/merge-patch+json").status, 409);
  EXPECT_EQ(Http("PATCH", Widgets("/f/status"), R"({"status":{"phase":"A"}})", "application/merge-patch+json").status, 200);

  EXPECT_EQ(server_->CountRequests("list", "widgets"), 3);
  EXPECT_EQ(server_->CountRequests("patch", "widgets", "status"), 2);
  EXPECT_EQ(server_->CountRequests("patch", "widgets", ""), 1);

  // The same over the HTTP control endpoint.
  json log = Http("GET", base_ + "/testing/requests").Json();
  EXPECT_EQ(log["counts"]["list widgets"], 3);
  EXPECT_EQ(log["counts"]["patch widgets/status"], 2);
  ASSERT_EQ(Http("POST", base_ + "/testing/faults", R"({"expireNextWatches":1})").status, 200);
  auto expired = Watch(Widgets("?watch=1"), [](const auto&) { return false; });
  ASSERT_EQ(expired.events.size(), 1u);
  EXPECT_EQ(expired.events[0]["object"]["code"], 410);
  ASSERT_EQ(Http("POST", base_ + "/testing/faults", R"({"tooManyRequests":{"count":1,"retryAfterSeconds":7}})").status, 200);
  EXPECT_EQ(Http("GET", Widgets("/f")).retry_after, "7");
  EXPECT_EQ(Http("POST", base_ + "/testing/faults", R"({"dropWatch":true})").status, 400);  // typo caught
}

TEST_F(ServerTest, DropWatchesAndRestartKeepData) {
  std::atomic<bool> started{false};
  std::thread dropper([&] {
    WaitFor([&] { return server_->open_watches() == 1; });
    server_->DropAllWatches();
  });
  auto dropped = Watch(Widgets("?watch=1&resourceVersion=0"), [](const auto&) { return false; });
  dropper.join();
  EXPECT_TRUE(dropped.ended_by_server);

  ASSERT_EQ(CreateWidget("keep", 1).status, 201);
  std::thread restarter([&] {
    WaitFor([&] { return server_->open_watches() == 1; });
    ASSERT_EQ(Http("POST", base_ + "/testing/faults", R"({"restart":true})").status, 200);
  });
  auto cut = Watch(Widgets("?watch=1"), [](const auto&) { return false; });
  restarter.join();
  EXPECT_FALSE(cut.ended_by_server);  // an abrupt close, not a clean end of stream
  EXPECT_TRUE(WaitFor([&] { return server_->open_watches() == 0; }));
  EXPECT_EQ(Http("GET", Widgets("/keep")).status, 200);

  server_->SetResponseDelay(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Http("GET", Widgets("/keep")).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  server_->ClearFaults();
}

TEST_F(ServerTest, TableResponses) {
  ASSERT_EQ(CreateWidget("t", 7).status, 201);
  ASSERT_EQ(Http("PATCH", Widgets("/t/status"), R"({"status":{"phase":"Running"}})", "application/merge-patch+json").status, 200);
  json table = Http("GET", Widgets(), "", "application/json", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").Json();
  EXPECT_EQ(table["kind"], "Table");
  std::vector<std::string> cols;
  std::vector<int> prio;
  for (const auto& c : table["columnDefinitions"]) {
    cols.push_back(c["name"]);
    prio.push_back(c["priority"]);
  }
  EXPECT_EQ(cols, (std::vector<std::string>{"Name", "Phase", "Ready", "Size", "Age"}));
  EXPECT_EQ(prio, (std::vector<int>{0, 0, 0, 1, 0}));
  ASSERT_EQ(table["rows"].size(), 1u);
  EXPECT_EQ(table["rows"][0]["cells"][0], "t");
  EXPECT_EQ(table["rows"][0]["cells"][1], "Running");
  EXPECT_EQ(table["rows"][0]["cells"][3], 7);
  EXPECT_EQ(table["rows"][0]["cells"][4].get<std::string>().back(), 's');  // "0s"
  EXPECT_EQ(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

TEST_F(ServerTest, DiscoveryAndOpenApi) {
  json groups = Http("GET", base_ + "/apis").Json();
  std::set<std::string> names;
  for (const auto& g : groups["groups"]) names.insert(g["name"]);
  for (const char* g : {"example.dev", "apiextensions.k8s.io", "coordination.k8s.io"}) EXPECT_TRUE(names.count(g)) << g;
  json rl = Http("GET", base_ + "/apis/example.dev/v1alpha1").Json();
  ASSERT_EQ(rl["resources"].size(), 2u);
  EXPECT_EQ(rl["resources"][0]["shortNames"], json({"wd"}));
  EXPECT_EQ(rl["resources"][1]["name"], "widgets/status");
  json index = Http("GET", base_ + "/openapi/v3").Json();
  ASSERT_TRUE(index["paths"].contains("apis/example.dev/v1alpha1"));
  std::string url = index["paths"]["apis/example.dev/v1alpha1"]["serverRelativeURL"];
  json doc = Http("GET", base_ + url).Json();
  json gvk = doc["components"]["schemas"]["dev.example.v1alpha1.Widget"]["x-kubernetes-group-version-kind"];
  EXPECT_EQ(gvk[0]["kind"], "Widget");
  EXPECT_TRUE(doc["components"]["schemas"].contains("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  EXPECT_EQ(Http("GET", base_ + "/api/v1").Json()["kind"], "APIResourceList");
}

// Our own CRD, loaded as --crd does: the fields it constrains are enforced, defaults applied.
TEST(TrainingJobCrdTest, ValidatesDefaultsAndPrints) {
  TestApiServerOptions options;
  options.crd_files = {std::string(RINGLEADER_SOURCE_DIR) + "/crds/ringleader.dev_trainingjobs.yaml"};
  TestApiServer server(options);
  ASSERT_TRUE(server.Start().ok());
  const std::string tjs = server.url() + "/apis/ringleader.dev/v1alpha1/namespaces/default/trainingjobs";
  json job = {{"apiVersion", "ringleader.dev/v1alpha1"}, {"kind", "TrainingJob"}, {"metadata", {{"name", "j"}}},
              {"spec", {{"workers", 2}, {"template", {{"spec", {{"containers", {{{"name", "t"}, {"image", "i"}}}}}}}}}}};
  struct Case {
    std::string name;
    json spec_patch;
    std::string field;  // "" = valid
  };
  const std::vector<Case> cases = {
      {"valid", json::object(), ""},
      {"zero workers", {{"workers", 0}}, "spec.workers"},
      {"too many workers", {{"workers", 5000}}, "spec.workers"},
      {"workers as string", {{"workers", "two"}}, "spec.workers"},
      {"low port", {{"port", 80}}, "spec.port"},
      {"missing template", {{"template", nullptr}}, "spec.template"},
  };
  for (const auto& c : cases) {
    json body = job;
    body["metadata"]["name"] = "j-" + std::to_string(&c - &cases[0]);
    body["spec"].merge_patch(c.spec_patch);
    HttpResult r = Http("POST", tjs, body.dump());
    if (c.field.empty()) {
      ASSERT_EQ(r.status, 201) << c.name << ": " << r.body;
      EXPECT_EQ(r.Json()["spec"]["processesPerWorker"], 1) << "default applied";
      EXPECT_EQ(r.Json()["spec"]["port"], 29500) << "default applied";
    } else {
      ASSERT_EQ(r.status, 422) << c.name << ": " << r.body;
      EXPECT_EQ(r.Json()["details"]["causes"][0]["field"], c.field) << c.name;
    }
  }
  json table = Http("GET", tjs, "", "application/json", "application/json;as=Table;v=v1;g=meta.k8s.io").Json();
  std::vector<std::string> columns;
  for (const auto& col : table["columnDefinitions"]) columns.push_back(col["name"]);
  EXPECT_EQ(columns, (std::vector<std::string>{"Name", "Phase", "Ready", "Restarts", "Age", "Workers", "Gang", "Step",
                                               "Loss", "Message"}));
  server.Stop();
}

// ---- pod simulator ----

class SimulatorTest : public ServerTest {
 protected:
  void SetUp() override {
    TestApiServerOptions options;
    options.simulate_pods = true;
    options.nodes = 2;
    options.node_gpus = 4;
    options.node_cpus = "8";
    options.pod_start_delay = std::chrono::milliseconds(10);
    options.node_monitor_grace_period = node_monitor_grace_period_;
    StartServer(options);
  }
  // The node lifecycle controller marks a killed node this long after KillNode.
  std::chrono::milliseconds node_monitor_grace_period_{0};
  std::string NodeReady(const std::string& name) {
    const json node = Http("GET", base_ + "/api/v1/nodes/" + name).Json();
    for (const auto& c : node["status"]["conditions"]) {
      if (c["type"] == "Ready") return c["status"].get<std::string>() + "/" + c.value("reason", "");
    }
    return "";
  }
  std::string PodReady(const std::string& name) {
    for (const auto& c : GetPod(name)["status"].value("conditions", json::array())) {
      if (c["type"] == "Ready") return c["status"];
    }
    return "";
  }
  json GetPod(const std::string& name) { return Http("GET", Pods("/" + name)).Json(); }
  static json GpuPod(const std::string& name, int gpus, const json& extra = json::object()) {
    json pod = Pod(name, extra);
    pod["spec"]["containers"][0]["resources"] = {{"requests", {{"nvidia.com/gpu", std::to_string(gpus)}}},
                                                 {"limits", {{"nvidia.com/gpu", std::to_string(gpus)}}}};
    return pod;
  }
  bool WaitPhase(const std::string& name, const std::string& phase) {
    return WaitFor([&] { return GetPod(name)["status"].value("phase", "") == phase; });
  }
};

TEST_F(SimulatorTest, BindsWithinCapacityAndRuns) {
  json nodes = Http("GET", base_ + "/api/v1/nodes").Json();
  ASSERT_EQ(nodes["items"].size(), 2u);
  EXPECT_EQ(nodes["items"][0]["status"]["allocatable"]["nvidia.com/gpu"], "4");
  for (const char* name : {"g0", "g1", "g2"}) ASSERT_EQ(Http("POST", Pods(), GpuPod(name, 3).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("g0", "Running"));
  ASSERT_TRUE(WaitPhase("g1", "Running"));
  json g0 = GetPod("g0");
  EXPECT_FALSE(g0["status"]["podIP"].get<std::string>().empty());
  EXPECT_EQ(g0["status"]["containerStatuses"][0]["ready"], true);
  EXPECT_NE(g0["spec"]["nodeName"], GetPod("g1")["spec"]["nodeName"]);
  // The third does not fit: Unschedulable, until a node is added through the API.
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& c : GetPod("g2")["status"].value("conditions", json::array())) {
      if (c["type"] == "PodScheduled" && c["status"] == "False" && c.value("reason", "") == "Unschedulable") return true;
    }
    return false;
  }));
  EXPECT_EQ(GetPod("g2")["status"]["phase"], "Pending");
  json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "extra"}}},
               {"status", {{"allocatable", {{"cpu", "8"}, {"memory", "8Gi"}, {"pods", "10"}, {"nvidia.com/gpu", "8"}}},
                           {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
  ASSERT_EQ(Http("POST", base_ + "/api/v1/nodes", node.dump()).status, 201);
  ASSERT_TRUE(WaitPhase("g2", "Running"));
  EXPECT_EQ(GetPod("g2")["spec"]["nodeName"], "extra");
}

TEST_F(SimulatorTest, GatesSchedulerNameTaintsAndSelectors) {
  ASSERT_EQ(Http("POST", Pods(), GpuPod("gated", 1, {{"spec", {{"schedulingGates", {{{"name", "g"}}}}}}}).dump()).status, 201);
  ASSERT_EQ(Http("POST", Pods(), GpuPod("other", 1, {{"spec", {{"schedulerName", "volcano"}}}}).dump()).status, 201);
  ASSERT_EQ(Http("POST", Pods(), GpuPod("picky", 1, {{"spec", {{"nodeSelector", {{"kubernetes.io/hostname", "node-1"}}}}}}).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("picky", "Running"));
  EXPECT_EQ(GetPod("picky")["spec"]["nodeName"], "node-1");
  EXPECT_EQ(GetPod("gated")["spec"].value("nodeName", ""), "");
  EXPECT_EQ(GetPod("other")["spec"].value("nodeName", ""), "");
  // Taint both nodes; a pod without toleration stays pending, one with it runs.
  for (const char* n : {"node-0", "node-1"}) {
    ASSERT_EQ(Http("PATCH", base_ + "/api/v1/nodes/" + n,
                   R"({"spec":{"taints":[{"key":"maint","value":"x","effect":"NoSchedule"}]}})", "application/merge-patch+json").status, 200);
  }
  ASSERT_EQ(Http("PATCH", Pods("/gated"), R"({"spec":{"schedulingGates":null}})", "application/merge-patch+json").status, 200);
  ASSERT_EQ(Http("POST", Pods(), GpuPod("tolerant", 1, {{"spec", {{"tolerations", {{{"key", "maint"}, {"operator", "Exists"}}}}}}}).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("tolerant", "Running"));
  ASSERT_TRUE(WaitFor([&] {
    auto conds = GetPod("gated")["status"].value("conditions", json::array());
    return !conds.empty() && conds[0].value("reason", "") == "Unschedulable";
  }));
  EXPECT_NE(GetPod("gated")["status"]["conditions"][0]["message"].get<std::string>().find("untolerated taint"), std::string::npos);
}

TEST_F(SimulatorTest, AnnotationsEndPods) {
  auto with = [](const std::string& name, const json& annotations, const std::string& attempt) {
    return Pod(name, {{"metadata", {{"annotations", annotations}, {"labels", {{"ringleader.dev/attempt", attempt}}}}}});
  };
  ASSERT_EQ(Http("POST", Pods(), with("ok", {{"sim.ringleader.dev/succeed-after-seconds", "0.05"}}, "0").dump()).status, 201);
  ASSERT_EQ(Http("POST", Pods(), with("bad", {{"sim.ringleader.dev/fail-after-seconds", "0.05"}, {"sim.ringleader.dev/exit-code", "3"}}, "0").dump()).status, 201);
  ASSERT_EQ(Http("POST", Pods(), with("second", {{"sim.ringleader.dev/fail-after-seconds", "0.05"}, {"sim.ringleader.dev/only-attempt", "0"}}, "1").dump()).status, 201);
  ASSERT_TRUE(WaitPhase("ok", "Succeeded"));
  EXPECT_EQ(GetPod("ok")["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
  ASSERT_TRUE(WaitPhase("bad", "Failed"));
  json bad = GetPod("bad");
  EXPECT_EQ(bad["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 3);
  EXPECT_EQ(bad["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Error");
  ASSERT_TRUE(WaitPhase("second", "Running"));
  // A test drives a pod by patching its status; the simulator leaves that alone.
  ASSERT_EQ(Http("PATCH", Pods("/second/status"), R"({"status":{"phase":"Failed"}})", "application/merge-patch+json").status, 200);
  ASSERT_TRUE(server_->EvictPod("default", "ok").code() == StatusCode::kOk);
  json evicted = GetPod("ok");
  EXPECT_EQ(evicted["status"]["phase"], "Failed");
  EXPECT_EQ(evicted["status"]["reason"], "Evicted");
  EXPECT_EQ(GetPod("second")["status"]["phase"], "Failed");
  // A deleted pod that already ended goes at once (the registry gives it grace period 0).
  ASSERT_EQ(Http("DELETE", Pods("/bad")).status, 200);
  EXPECT_EQ(Http("GET", Pods("/bad")).status, 404);
}

// The simulator keeps node usage as pods are written rather than recounting every pod each
// pass: capacity freed by a pod that ends or is deleted, a cordon, a pod created with
// spec.nodeName (even for a node that does not exist yet) and a node deleted under its pods.
TEST_F(SimulatorTest, UsageFollowsPodAndNodeWrites) {
  auto unschedulable = [&](const std::string& name, const std::string& message) {
    return WaitFor([&] {
      for (const auto& c : GetPod(name)["status"].value("conditions", json::array())) {
        if (c["type"] == "PodScheduled" && c["status"] == "False" && c.value("message", "") == message) return true;
      }
      return false;
    });
  };
  const std::string full = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.";
  ASSERT_EQ(Http("POST", Pods(), GpuPod("a", 4, {{"metadata", {{"annotations", {{"sim.ringleader.dev/succeed-after-seconds", "1"}}}}}}).dump()).status, 201);
  ASSERT_EQ(Http("POST", Pods(), GpuPod("b", 4).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("a", "Running"));
  ASSERT_TRUE(WaitPhase("b", "Running"));
  ASSERT_EQ(Http("POST", Pods(), GpuPod("c", 4).dump()).status, 201);
  ASSERT_TRUE(unschedulable("c", full));
  // a ends: its GPUs go to c.
  ASSERT_TRUE(WaitPhase("a", "Succeeded"));
  ASSERT_TRUE(WaitPhase("c", "Running"));
  EXPECT_EQ(GetPod("c")["spec"]["nodeName"], GetPod("a")["spec"]["nodeName"]);
  // b is deleted: its GPUs go to d.
  ASSERT_EQ(Http("POST", Pods(), GpuPod("d", 4).dump()).status, 201);
  ASSERT_TRUE(unschedulable("d", full));
  std::string b_node = GetPod("b")["spec"]["nodeName"];
  ASSERT_EQ(Http("DELETE", Pods("/b")).status, 200);
  ASSERT_TRUE(WaitPhase("d", "Running"));
  EXPECT_EQ(GetPod("d")["spec"]["nodeName"], b_node);
  // Cordoned nodes take nothing; the pod waits, then binds where the cordon is lifted.
  for (const char* n : {"node-0", "node-1"}) {
    ASSERT_EQ(Http("PATCH", base_ + "/api/v1/nodes/" + n, R"({"spec":{"unschedulable":true}})",
                   "application/merge-patch+json").status, 200);
  }
  ASSERT_EQ(Http("POST", Pods(), Pod("e").dump()).status, 201);
  ASSERT_TRUE(unschedulable("e", "0/2 nodes are available: 2 node(s) were unschedulable."));
  ASSERT_EQ(Http("PATCH", base_ + "/api/v1/nodes/node-1", R"({"spec":{"unschedulable":null}})",
                 "application/merge-patch+json").status, 200);
  ASSERT_TRUE(WaitPhase("e", "Running"));
  EXPECT_EQ(GetPod("e")["spec"]["nodeName"], "node-1");
  // Created bound to a node that does not exist: the kubelet runs it, and its GPUs count on
  // that node once the node is created.
  ASSERT_EQ(Http("POST", Pods(), GpuPod("f", 4, {{"spec", {{"nodeName", "ghost"}}}}).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("f", "Running"));
  EXPECT_EQ(GetPod("f")["status"]["hostIP"], "10.0.0.1");
  json ghost = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "ghost"}, {"labels", {{"pool", "ghost"}}}}},
                {"status", {{"allocatable", {{"cpu", "8"}, {"memory", "8Gi"}, {"pods", "10"}, {"nvidia.com/gpu", "4"}}}}}};
  ASSERT_EQ(Http("POST", base_ + "/api/v1/nodes", ghost.dump()).status, 201);
  ASSERT_EQ(Http("POST", Pods(), GpuPod("g", 4, {{"spec", {{"nodeSelector", {{"pool", "ghost"}}}}}}).dump()).status, 201);
  ASSERT_TRUE(unschedulable("g", "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 1 node(s) didn't match Pod's node affinity/selector, "
                                   "1 node(s) were unschedulable."));
  ASSERT_EQ(Http("DELETE", Pods("/f")).status, 200);
  ASSERT_TRUE(WaitPhase("g", "Running"));
  EXPECT_EQ(GetPod("g")["spec"]["nodeName"], "ghost");
  // The node goes away under g: g stays as it is, and a pod for that pool has nowhere to go.
  ASSERT_EQ(Http("DELETE", base_ + "/api/v1/nodes/ghost").status, 200);
  ASSERT_EQ(Http("POST", Pods(), GpuPod("h", 1, {{"spec", {{"nodeSelector", {{"pool", "ghost"}}}}}}).dump()).status, 201);
  ASSERT_TRUE(unschedulable("h", "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                                   "1 node(s) were unschedulable."));
  EXPECT_EQ(GetPod("g")["status"]["phase"], "Running");
}

// A bound pod is removed only when its node's kubelet confirms, after the simulated stop
// delay (capped by the pod's grace period); an unbound one at once, as on a real cluster.
TEST_F(SimulatorTest, DeletedBoundPodsTerminateUntilTheKubeletConfirms) {
  server_->Stop();
  TestApiServerOptions options;
  options.simulate_pods = true;
  options.nodes = 1;
  options.pod_start_delay = std::chrono::milliseconds(10);
  options.pod_stop_delay = std::chrono::milliseconds(300);
  StartServer(options);
  ASSERT_EQ(Http("POST", Pods(), Pod("slow").dump()).status, 201);
  ASSERT_TRUE(WaitPhase("slow", "Running"));
  const auto asked = std::chrono::system_clock::now();
  HttpResult deleted = Http("DELETE", Pods("/slow"));
  ASSERT_EQ(deleted.status, 200);
  json meta = deleted.Json()["metadata"];
  ASSERT_TRUE(meta.contains("deletionTimestamp"));
  EXPECT_EQ(meta["deletionGracePeriodSeconds"], 30);  // the default terminationGracePeriodSeconds
  // deletionTimestamp is when the grace period ends, as the real registry writes it.
  auto rfc3339 = [](std::chrono::system_clock::time_point t) {
    std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
    return std::string(text);
  };
  EXPECT_GE(meta["deletionTimestamp"].get<std::string>(), rfc3339(asked + std::chrono::seconds(29)));
  EXPECT_EQ(Http("GET", Pods("/slow")).status, 200);  // Terminating until the kubelet confirms
  EXPECT_TRUE(WaitFor([&] { return Http("GET", Pods("/slow")).status == 404; }));
  EXPECT_GE(std::chrono::system_clock::now() - asked, std::chrono::milliseconds(300));

  // The stop delay never outlasts the pod's own grace period: 0 goes at once.
  json quick = Pod("quick");
  quick["spec"]["terminationGracePeriodSeconds"] = 0;
  ASSERT_EQ(Http("POST", Pods(), quick.dump()).status, 201);
  ASSERT_TRUE(WaitPhase("quick", "Running"));
  ASSERT_EQ(Http("DELETE", Pods("/quick")).status, 200);
  EXPECT_EQ(Http("GET", Pods("/quick")).status, 404);

  // Unbound (gated: never scheduled) pods have no kubelet to wait for.
  ASSERT_EQ(Http("POST", Pods(), Pod("gated", {{"spec", {{"schedulingGates", {{{"name", "g"}}}}}}}).dump()).status, 201);
  ASSERT_EQ(Http("DELETE", Pods("/gated")).status, 200);
  EXPECT_EQ(Http("GET", Pods("/gated")).status, 404);
}

// KillNode: the node turns Ready=Unknown with the unreachable taints, its pods not Ready, and
// its kubelet never confirms a deletion; only a force delete (grace 0) removes such a pod.
TEST_F(SimulatorTest, KilledNodeNeverConfirmsDeletions) {
  ASSERT_EQ(Http("POST", Pods(), Pod("p", {{"spec", {{"nodeName", "node-1"}}}}).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("p", "Running"));
  EXPECT_FALSE(server_->KillNode("no-such-node").ok());
  ASSERT_TRUE(server_->KillNode("node-1").ok());
  EXPECT_EQ(NodeReady("node-1"), "Unknown/NodeStatusUnknown");  // grace period 0: at once
  json node = Http("GET", base_ + "/api/v1/nodes/node-1").Json();
  std::set<std::string> taints;
  for (const auto& t : node["spec"]["taints"]) taints.insert(t["key"].get<std::string>() + ":" + t["effect"].get<std::string>());
  EXPECT_EQ(taints, (std::set<std::string>{"node.kubernetes.io/unreachable:NoExecute",
                                           "node.kubernetes.io/unreachable:NoSchedule"}));
  EXPECT_EQ(PodReady("p"), "False");

  ASSERT_EQ(Http("DELETE", Pods("/p")).status, 200);
  // The live node's pods keep going (the default stop delay is 100 ms).
  ASSERT_EQ(Http("POST", Pods(), Pod("q", {{"spec", {{"nodeName", "node-0"}}}}).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("q", "Running"));
  ASSERT_EQ(Http("DELETE", Pods("/q")).status, 200);
  ASSERT_TRUE(WaitFor([&] { return Http("GET", Pods("/q")).status == 404; }));
  EXPECT_EQ(Http("GET", Pods("/p")).status, 200);  // still Terminating on the dead node
  EXPECT_TRUE(GetPod("p")["metadata"].contains("deletionTimestamp"));
  // Nothing new is scheduled there.
  ASSERT_EQ(Http("POST", Pods(), Pod("r", {{"spec", {{"nodeSelector", {{"kubernetes.io/hostname", "node-1"}}}}}}).dump()).status, 201);
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& c : GetPod("r")["status"].value("conditions", json::array())) {
      if (c["type"] == "PodScheduled" && c["status"] == "False") return true;
    }
    return false;
  }));
  ASSERT_EQ(Http("DELETE", Pods("/p") + "?gracePeriodSeconds=0").status, 200);
  EXPECT_EQ(Http("GET", Pods("/p")).status, 404);
}

// As on a real cluster, nothing marks a dead node until the node lifecycle controller has
// heard nothing from its kubelet for --node-monitor-grace-period: until then the node looks
// Ready, its pods look Running and Ready, and the scheduler still binds pods there, which the
// dead kubelet never starts.
class SimulatorGraceTest : public SimulatorTest {
 protected:
  void SetUp() override {
    node_monitor_grace_period_ = std::chrono::milliseconds(1500);
    SimulatorTest::SetUp();
  }
};

TEST_F(SimulatorGraceTest, KilledNodeLooksReadyUntilTheGracePeriodEnds) {
  ASSERT_EQ(Http("POST", Pods(), Pod("p", {{"spec", {{"nodeName", "node-1"}}}}).dump()).status, 201);
  ASSERT_TRUE(WaitPhase("p", "Running"));
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(server_->KillNode("node-1").ok());
  EXPECT_EQ(NodeReady("node-1"), "True/KubeletReady");
  EXPECT_EQ(PodReady("p"), "True");
  // Pinned to the dead node, bound there, and never started.
  ASSERT_EQ(Http("POST", Pods(), Pod("late", {{"spec", {{"nodeSelector", {{"kubernetes.io/hostname", "node-1"}}}}}}).dump())
                .status,
            201);
  ASSERT_TRUE(WaitFor([&] { return GetPod("late")["spec"].value("nodeName", "") == "node-1"; }));
  ASSERT_TRUE(WaitFor([&] { return NodeReady("node-1") == "Unknown/NodeStatusUnknown"; }));
  EXPECT_GE(std::chrono::steady_clock::now() - killed, std::chrono::milliseconds(1500));
  EXPECT_EQ(PodReady("p"), "False");
  EXPECT_EQ(GetPod("p")["status"]["phase"], "Running");  // the last the kubelet reported
  EXPECT_EQ(GetPod("late")["status"]["phase"], "Pending");
}

}  // namespace
}  // namespace ringleader::testapi
