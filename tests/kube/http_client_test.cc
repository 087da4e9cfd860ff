#include "ringleader/kube/http_client.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ringleader/api/resources.h"
#include "ringleader/common/metrics.h"
#include "ringleader/kube/informer.h"
#include "ringleader/testing/scripted_http_server.h"

namespace ringleader::kube {
namespace {

using testapi::ScriptedHttpServer;
using Response = ScriptedHttpServer::Response;
using Request = ScriptedHttpServer::Request;

const std::string kPod = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1","namespace":"ns","resourceVersion":"7"}})";

Response Json200(const std::string& body) {
  Response r;
  r.body = body;
  return r;
}

Response StatusResponse(int code, const std::string& reason, const std::string& message) {
  Response r;
  r.status = code;
  r.body = Json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                {"message", message}, {"reason", reason}, {"code", code}}
               .dump();
  return r;
}

struct Fixture {
  // qps 0: no client-side throttling (tests measure behaviour, not the limiter).
  explicit Fixture(ScriptedHttpServer::Handler handler, HttpClientOptions options = {},
                   std::shared_ptr<TokenSource> token = TokenSource::Static("tok"), double qps = 0,
                   int burst = 1)
      : server(std::move(handler)) {
    RestConfig config;
    config.server = server.url();
    config.token = token;
    config.qps = qps;
    config.burst = burst;
    options.registry = &registry;
    if (options.retry_backoff == HttpClientOptions{}.retry_backoff) {
      options.retry_backoff = std::chrono::milliseconds(1);
    }
    auto created = HttpClient::Create(config, options);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    client = std::move(created).value();
  }
  double Requests(const std::string& verb, const std::string& code) {
    return registry.AddCounter("ringleader_api_requests_total", "", {"verb", "code"})
        .WithLabels({verb, code})
        .Value();
  }
  ScriptedHttpServer server;
  metrics::Registry registry;
  std::unique_ptr<HttpClient> client;
};

TEST(HttpClientTest, GetSendsAuthAndDecodes) {
  Fixture f([](const Request&) { return Json200(kPod); });
  StatusOr<Json> pod = f.client->Get(PodsResource(), "ns", "p1");
  ASSERT_TRUE(pod.ok()) << pod.status().ToString();
  EXPECT_EQ((*pod)["metadata"]["name"], "p1");
  auto requests = f.server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/api/v1/namespaces/ns/pods/p1");
  EXPECT_EQ(requests[0].headers["authorization"], "Bearer tok");
  EXPECT_EQ(requests[0].headers["accept"], "application/json");
  EXPECT_EQ(f.Requests("get", "200"), 1);
}

TEST(HttpClientTest, ErrorsCarryTheStatusObject) {
  struct Case {
    Response response;
    StatusCode code;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {StatusResponse(404, "NotFound", "pods \"p1\" not found"), StatusCode::kNotFound, "NotFound"},
      {StatusResponse(409, "AlreadyExists", "exists"), StatusCode::kAlreadyExists, "AlreadyExists"},
      {StatusResponse(409, "Conflict", "modified"), StatusCode::kConflict, "Conflict"},
      {StatusResponse(422, "Invalid", "bad"), StatusCode::kInvalidArgument, "Invalid"},
      {StatusResponse(403, "Forbidden", "no"), StatusCode::kPermissionDenied, "Forbidden"},
      {StatusResponse(415, "UnsupportedMediaType", "no"), StatusCode::kUnimplemented,
       "UnsupportedMediaType"},
  };
  for (const auto& c : cases) {
    Fixture f([&](const Request&) { return c.response; });
    StatusOr<Json> result = f.client->Create(PodsResource(), "ns", Json::parse(kPod));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.code(), c.code) << result.status().ToString();
    EXPECT_EQ(ApiStatusOf(result).reason, c.reason);
    EXPECT_EQ(ApiStatusOf(result).http_code, c.response.status);
    EXPECT_NE(result.status().message().find(
                  Json::parse(c.response.body)["message"].get<std::string>()),
              std::string::npos);
    EXPECT_EQ(f.server.requests().size(), 1u) << "errors other than 429 are not retried for POST";
  }
}

TEST(HttpClientTest, RetriesTooManyRequestsHonouringRetryAfter) {
  std::atomic<int> calls{0};
  Fixture f([&](const Request&) {
    if (calls++ < 2) {
      Response r = StatusResponse(429, "TooManyRequests", "slow down");
      r.headers.push_back({"Retry-After", "0"});
      return r;
    }
    return Json200(kPod);
  });
  StatusOr<Json> created = f.client->Create(PodsResource(), "ns", Json::parse(kPod));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(f.Requests("create", "429"), 2);
  EXPECT_EQ(f.Requests("create", "200"), 1);
}

TEST(HttpClientTest, RetriesAreBounded) {
  HttpClientOptions options;
  options.max_retries = 2;
  Fixture f(
      [](const Request&) {
        Response r = StatusResponse(429, "TooManyRequests", "slow down");
        r.headers.push_back({"Retry-After", "0"});
        return r;
      },
      options);
  StatusOr<Json> got = f.client->Get(PodsResource(), "ns", "p1");
  EXPECT_EQ(got.code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(ApiStatusOf(got).retry_after_seconds.has_value());
  EXPECT_EQ(*ApiStatusOf(got).retry_after_seconds, 0);
  EXPECT_EQ(f.server.requests().size(), 3u);
}

TEST(HttpClientTest, ServerErrorsRetriedOnlyForReads) {
  std::atomic<int> calls{0};
  Fixture f([&](const Request& request) {
    if (calls++ == 0) return StatusResponse(503, "ServiceUnavailable", "busy");
    if (request.method != "GET") return StatusResponse(503, "ServiceUnavailable", "busy");
    return Json200(kPod);
  });
  EXPECT_TRUE(f.client->Get(PodsResource(), "ns", "p1").ok());
  EXPECT_EQ(calls.load(), 2);
  StatusOr<Json> deleted = f.client->Delete(PodsResource(), "ns", "p1");
  EXPECT_EQ(deleted.code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls.load(), 3);
}

using std::chrono::milliseconds;

milliseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// A Retry-After of 1 s is really waited for (timing: lower bound only, generous upper bound).
TEST(HttpClientTest, RetryAfterOneSecondIsWaited) {
  std::atomic<int> calls{0};
  Fixture f([&](const Request&) {
    if (calls++ == 0) {
      Response r = StatusResponse(429, "TooManyRequests", "slow down");
      r.headers.push_back({"Retry-After", "1"});
      return r;
    }
    return Json200(kPod);
  });
  auto started = Clock::now();
  StatusOr<Json> got = f.client->Get(PodsResource(), "ns", "p1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(calls.load(), 2);
  EXPECT_GE(Since(started), milliseconds(950));
  EXPECT_LT(Since(started), milliseconds(20000));
}

// A retried 5xx GET honours Retry-After too (details.retryAfterSeconds here, no header).
TEST(HttpClientTest, ServerErrorRetryOfGetHonoursRetryAfter) {
  std::atomic<int> calls{0};
  Fixture f([&](const Request&) {
    if (calls++ == 0) {
      Response r;
      r.status = 503;
      r.body =
          R"({"kind":"Status","reason":"ServiceUnavailable","details":{"retryAfterSeconds":1},"code":503})";
      return r;
    }
    return Json200(kPod);
  });
  auto started = Clock::now();
  ASSERT_TRUE(f.client->Get(PodsResource(), "ns", "p1").ok());
  EXPECT_EQ(calls.load(), 2);
  EXPECT_GE(Since(started), milliseconds(950));
}

// Huge Retry-After values (header or body, up to and beyond int range) are capped by
// max_retry_after instead of overflowing into an immediate retry or an endless wait.
TEST(HttpClientTest, RetryAfterIsCappedByMaxRetryAfter) {
  struct Case {
    std::string name;
    std::string header;  // "" : none
    std::string details;
  };
  const std::vector<Case> cases = {
      {"header 1 h", "3600", ""},
      {"header beyond int", "99999999999999999999", ""},
      {"body 1e300", "", R"("retryAfterSeconds":1e300)"},
      {"body above int32", "", R"("retryAfterSeconds":4294967296)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::atomic<int> calls{0};
    HttpClientOptions options;
    options.max_retry_after = milliseconds(300);
    Fixture f(
        [&](const Request&) {
          if (calls++ == 0) {
            Response r;
            r.status = 429;
            r.body = R"({"kind":"Status","reason":"TooManyRequests","code":429,"details":{)" +
                     c.details + "}}";
            if (!c.header.empty()) r.headers.push_back({"Retry-After", c.header});
            return r;
          }
          return Json200(kPod);
        },
        options);
    auto started = Clock::now();
    StatusOr<Json> got = f.client->Get(PodsResource(), "ns", "p1");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(calls.load(), 2);
    EXPECT_GE(Since(started), milliseconds(280));    // waited, not retried at once
    EXPECT_LT(Since(started), milliseconds(10000));  // but only up to the cap
  }
}

// A negative retryAfterSeconds is no hint: the exponential backoff is used, not 0.
TEST(HttpClientTest, NegativeRetryAfterFallsBackToBackoff) {
  std::atomic<int> calls{0};
  HttpClientOptions options;
  options.retry_backoff = milliseconds(250);  // (the fixture replaces the 200 ms default)
  Fixture f(
      [&](const Request&) {
        if (calls++ == 0) {
          Response r;
          r.status = 429;
          r.body = R"({"kind":"Status","code":429,"details":{"retryAfterSeconds":-30}})";
          return r;
        }
        return Json200(kPod);
      },
      options);
  auto started = Clock::now();
  ASSERT_TRUE(f.client->Get(PodsResource(), "ns", "p1").ok());
  EXPECT_GE(Since(started), milliseconds(230));
}

// The client-side token bucket is applied to every request: qps 20, burst 1 lets the first
// request through and spaces the next ten 50 ms apart.
TEST(HttpClientTest, ClientSideRateLimitIsApplied) {
  Fixture f([](const Request&) { return Json200(kPod); }, {}, TokenSource::Static("tok"),
            /*qps=*/20, /*burst=*/1);
  auto started = Clock::now();
  for (int i = 0; i < 11; ++i) ASSERT_TRUE(f.client->Get(PodsResource(), "ns", "p1").ok());
  EXPECT_GE(Since(started), milliseconds(450));
  EXPECT_EQ(f.server.requests().size(), 11u);
}

// ScopedRequestDeadline cuts a hung request short (and skips retries past it).
TEST(HttpClientTest, RequestDeadlineBoundsAHungRequest) {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  Fixture f([&](const Request&) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return released; });
    return Json200(kPod);
  });
  auto started = Clock::now();
  StatusOr<Json> got(Status::Ok());
  {
    ScopedRequestDeadline deadline(Clock::now() + milliseconds(300));
    {
      ScopedRequestDeadline later(Clock::now() + std::chrono::seconds(60));  // earliest wins
      got = f.client->Get(PodsResource(), "ns", "p1");
    }
  }
  EXPECT_FALSE(ScopedRequestDeadline::Current().has_value());
  EXPECT_EQ(got.code(), StatusCode::kDeadlineExceeded) << got.status().ToString();
  EXPECT_GE(Since(started), milliseconds(280));
  EXPECT_LT(Since(started), milliseconds(5000));
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
  }
  cv.notify_all();
  // A deadline already past fails without sending anything.
  size_t sent = f.server.requests().size();
  ScopedRequestDeadline past(Clock::now() - milliseconds(1));
  EXPECT_EQ(f.client->Get(PodsResource(), "ns", "p1").code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(f.server.requests().size(), sent);
}

// A Retry-After that would end past the deadline is not waited for.
TEST(HttpClientTest, RequestDeadlineSkipsRetryPastIt) {
  Fixture f([](const Request&) {
    Response r = StatusResponse(429, "TooManyRequests", "slow down");
    r.headers.push_back({"Retry-After", "5"});
    return r;
  });
  auto started = Clock::now();
  ScopedRequestDeadline deadline(Clock::now() + std::chrono::seconds(1));
  StatusOr<Json> got = f.client->Get(PodsResource(), "ns", "p1");
  EXPECT_EQ(got.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(got.status().message().find("slow down"), std::string::npos) << got.status().ToString();
  EXPECT_LT(Since(started), milliseconds(900));
  EXPECT_EQ(f.server.requests().size(), 1u);
}

// Error bodies with wrongly-typed fields come back as error results from every entry point
// (they used to throw nlohmann::type_error out of Do() and Watch()).
TEST(HttpClientTest, WronglyTypedErrorBodiesDoNotThrow) {
  const std::vector<std::string> bodies = {
      R"({"kind":1})",
      R"({"kind":0})",
      R"({"kind":"Status","reason":1,"message":null,"code":"x"})",
      R"({"kind":"Status","details":{"name":2,"kind":[],"causes":[{"field":1}],"retryAfterSeconds":"x"}})",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    Fixture f([&](const Request&) {
      Response r;
      r.status = 422;
      r.body = body;
      return r;
    });
    StatusOr<Json> got(Status::Ok());
    ASSERT_NO_THROW(got = f.client->Create(PodsResource(), "ns", Json::parse(kPod)));
    EXPECT_EQ(got.code(), StatusCode::kInvalidArgument);
    Status watched;
    ASSERT_NO_THROW(
        watched = f.client->Watch(PodsResource(), "ns", {}, [](WatchEvent&&) { return true; }));
    EXPECT_EQ(watched.code(), StatusCode::kInvalidArgument);
  }
}

// List bodies with wrongly-typed metadata: read as absent, never thrown.
TEST(HttpClientTest, WronglyTypedListBodies) {
  struct Case {
    std::string name;
    std::string body;
    bool ok;
    size_t items;
    Json resource_version;
  };
  const std::vector<Case> cases = {
      {"continue number",
       R"({"items":[{"metadata":{"name":"a"}}],"metadata":{"continue":7,"resourceVersion":"5"}})",
       true, 1, "5"},
      {"continue null", R"({"items":[],"metadata":{"continue":null}})", true, 0, nullptr},
      {"metadata string", R"({"items":[{"metadata":{"name":"a"}}],"metadata":"x"})", true, 1,
       nullptr},
      {"items not an array", R"({"items":{"a":1},"metadata":{}})", true, 0, nullptr},
      {"body is an array", R"([{"metadata":{"name":"a"}}])", false, 0, nullptr},
      {"body is a string", R"("PodList")", false, 0, nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Fixture f([&](const Request&) { return Json200(c.body); });
    StatusOr<Json> all(Status::Ok());
    ASSERT_NO_THROW(all = f.client->ListAll(PodsResource(), "ns"));
    ASSERT_EQ(all.ok(), c.ok) << all.status().ToString();
    EXPECT_EQ(f.server.requests().size(), 1u) << "a non-string continue ends the listing";
    if (!c.ok) continue;
    EXPECT_EQ((*all)["items"].size(), c.items);
    if (c.resource_version.is_null()) continue;
    EXPECT_EQ((*all)["metadata"]["resourceVersion"], c.resource_version);
  }
}

// The informer over a real HttpClient survives a list whose resourceVersion is a number and
// whose items include non-objects (it used to throw type_error on its own thread).
TEST(HttpClientTest, InformerSurvivesWronglyTypedList) {
  Fixture f([](const Request& request) {
    if (request.target.find("watch=1") != std::string::npos) {
      return Json200("");  // an empty stream: the informer rewatches
    }
    return Json200(
        R"({"kind":"PodList","metadata":{"resourceVersion":42,"continue":false},)"
        R"("items":[7,"x",{"metadata":{"name":"a","namespace":"ns","uid":1,"resourceVersion":[]}}]})");
  });
  InformerOptions options;
  options.gvr = PodsResource();
  options.min_backoff = milliseconds(5);
  options.max_backoff = milliseconds(20);
  Informer informer(*f.client, options);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(Clock::now() + std::chrono::seconds(10)));
  EXPECT_EQ(informer.cache().Size(), 1u);
  EXPECT_NE(informer.cache().Get("ns", "a"), nullptr);
  EXPECT_EQ(informer.LastResourceVersion(), "");
  informer.Stop();
}

TEST(HttpClientTest, ReusesConnections) {
  Fixture f([](const Request&) { return Json200(kPod); });
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(f.client->Get(PodsResource(), "ns", "p1").ok());
  EXPECT_EQ(f.server.connections_accepted(), 1);
  auto requests = f.server.requests();
  for (const auto& r : requests) EXPECT_EQ(r.connection_id, requests[0].connection_id);
}

TEST(HttpClientTest, ConcurrentCallers) {
  Fixture f([](const Request&) { return Json200(kPod); });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) ok += f.client->Get(PodsResource(), "ns", "p1").ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(f.server.requests().size(), 160u);
  EXPECT_LE(f.server.connections_accepted(), 8);
}

TEST(HttpClientTest, RereadsTokenFileAfterUnauthorized) {
  std::string dir = std::filesystem::temp_directory_path() / ("rl-token-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = dir + "/token";
  std::ofstream(path) << "old";
  auto token = TokenSource::FromFile(path, std::chrono::seconds(3600));
  Fixture f(
      [](const Request& request) {
        auto it = request.headers.find("authorization");
        if (it == request.headers.end() || it->second != "Bearer new") {
          return StatusResponse(401, "Unauthorized", "Unauthorized");
        }
        return Json200(kPod);
      },
      {}, token);
  EXPECT_EQ(token->Token(), "old");
  std::ofstream(path) << "new";  // the kubelet rotated the projected token
  StatusOr<Json> got = f.client->Get(PodsResource(), "ns", "p1");
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(f.server.requests().size(), 2u);
  // Still 401 after the re-read: reported, not retried forever.
  std::ofstream(path) << "revoked";
  token->Invalidate();
  EXPECT_EQ(f.client->Get(PodsResource(), "ns", "p1").code(), StatusCode::kPermissionDenied);
  std::filesystem::remove_all(dir);
}

TEST(HttpClientTest, ListQueryAndPagination) {
  Fixture f([](const Request& request) {
    Json list = {{"kind", "PodList"}, {"apiVersion", "v1"}, {"items", Json::array()}};
    if (request.target.find("continue=") == std::string::npos) {
      list["metadata"] = {{"resourceVersion", "100"}, {"continue", "tok/1"}};
      list["items"].push_back({{"metadata", {{"name", "a"}}}});
    } else if (request.target.find("continue=tok%2F1") != std::string::npos) {
      list["metadata"] = {{"resourceVersion", "100"}, {"continue", "tok/2"}};
      list["items"].push_back({{"metadata", {{"name", "b"}}}});
    } else {
      list["metadata"] = {{"resourceVersion", "100"}};
      list["items"].push_back({{"metadata", {{"name", "c"}}}});
    }
    return Json200(list.dump());
  });
  ListOptions options;
  options.label_selector = "app=x,tier in (a,b)";
  options.limit = 1;
  StatusOr<Json> all = f.client->ListAll(PodsResource(), "ns", options);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ((*all)["items"].size(), 3u);
  EXPECT_EQ((*all)["items"][2]["metadata"]["name"], "c");
  EXPECT_EQ((*all)["metadata"]["resourceVersion"], "100");
  EXPECT_FALSE((*all)["metadata"].contains("continue"));
  auto requests = f.server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target,
            "/api/v1/namespaces/ns/pods?labelSelector=app%3Dx%2Ctier%20in%20%28a%2Cb%29&limit=1");
  EXPECT_NE(requests[1].target.find("&continue=tok%2F1"), std::string::npos);
}

// A 410 on a continue token (the snapshot was compacted) restarts the listing once: ListPaged
// says so through on_restart, and ListAll returns the items of the second listing only.
TEST(HttpClientTest, ListRestartsOnceWhenTheContinueTokenExpired) {
  std::atomic<int> continues{0};
  auto handler = [&](const Request& request) {
    Json list = {{"kind", "PodList"}, {"apiVersion", "v1"}, {"items", Json::array()}};
    if (request.target.find("continue=") == std::string::npos) {
      list["metadata"] = {{"resourceVersion", "100"}, {"continue", "tok"}};
      list["items"].push_back({{"metadata", {{"name", "a"}}}});
      return Json200(list.dump());
    }
    if (continues.fetch_add(1) == 0) return StatusResponse(410, "Expired", "continue token expired");
    list["metadata"] = {{"resourceVersion", "100"}};
    list["items"].push_back({{"metadata", {{"name", "b"}}}});
    return Json200(list.dump());
  };
  {
    Fixture f(handler);
    std::vector<std::string> seen;
    StatusOr<Json> meta = f.client->ListPaged(
        PodsResource(), "ns", ListOptions{},
        [&](Json& items) {
          for (const Json& item : items) seen.push_back(item["metadata"]["name"]);
        },
        [&] { seen.push_back("restart"); });
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "restart", "a", "b"}));
    EXPECT_FALSE(meta->contains("items"));
    EXPECT_EQ((*meta)["metadata"], (Json{{"resourceVersion", "100"}}));
  }
  continues = 0;
  Fixture f(handler);
  StatusOr<Json> all = f.client->ListAll(PodsResource(), "ns");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ((*all)["items"].size(), 2u) << (*all)["items"].dump();
  EXPECT_EQ((*all)["items"][0]["metadata"]["name"], "a");
  EXPECT_EQ((*all)["items"][1]["metadata"]["name"], "b");
  EXPECT_EQ(f.server.requests().size(), 4u);
}

TEST(HttpClientTest, WritesUseTheRightMethodPathAndContentType) {
  Fixture f([](const Request&) { return Json200(kPod); });
  Json pod = Json::parse(kPod);
  struct Case {
    std::function<StatusOr<Json>()> call;
    std::string method, target, content_type;
  };
  const std::vector<Case> cases = {
      {[&] { return f.client->Create(PodsResource(), "ns", pod); }, "POST",
       "/api/v1/namespaces/ns/pods", "application/json"},
      {[&] { return f.client->Update(PodsResource(), "ns", pod); }, "PUT",
       "/api/v1/namespaces/ns/pods/p1", "application/json"},
      {[&] { return f.client->UpdateStatus(PodsResource(), "ns", pod); }, "PUT",
       "/api/v1/namespaces/ns/pods/p1/status", "application/json"},
      {[&] {
         return f.client->Patch(PodsResource(), "ns", "p1", PatchType::kMerge,
                                {{"status", {{"phase", "Running"}}}}, "status");
       },
       "PATCH", "/api/v1/namespaces/ns/pods/p1/status", "application/merge-patch+json"},
      {[&] {
         return f.client->Patch(PodsResource(), "ns", "p1", PatchType::kJson,
                                Json::array({{{"op", "remove"}, {"path", "/metadata/labels/x"}}}));
       },
       "PATCH", "/api/v1/namespaces/ns/pods/p1", "application/json-patch+json"},
      {[&] {
         return f.client->Patch(PodsResource(), "ns", "p1", PatchType::kStrategicMerge,
                                {{"metadata", {{"labels", {{"a", "b"}}}}}});
       },
       "PATCH", "/api/v1/namespaces/ns/pods/p1", "application/strategic-merge-patch+json"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(cases[i].call().ok()) << i;
    auto request = f.server.requests().back();
    EXPECT_EQ(request.method, cases[i].method) << i;
    EXPECT_EQ(request.target, cases[i].target) << i;
    EXPECT_EQ(request.headers["content-type"], cases[i].content_type) << i;
  }
  EXPECT_EQ(f.server.requests()[0].body, pod.dump());
}

// Answer::kOutcomeOnly: the answer is not decoded (a body that is not JSON does not fail the
// write, and the result is null), while errors are decoded as always.
TEST(HttpClientTest, OutcomeOnlyWritesDoNotDecodeTheAnswer) {
  bool fail = false;
  Fixture f([&](const Request&) {
    if (fail) return StatusResponse(409, "AlreadyExists", "pods \"p1\" already exists");
    return Json200("this is not JSON");
  });
  Json pod = Json::parse(kPod);
  const std::vector<std::function<StatusOr<Json>(Answer)>> writes = {
      [&](Answer a) { return f.client->Create(PodsResource(), "ns", pod, a); },
      [&](Answer a) { return f.client->UpdateStatus(PodsResource(), "ns", pod, a); },
      [&](Answer a) { return f.client->Patch(PodsResource(), "ns", "p1", PatchType::kMerge, {{"a", 1}}, "", a); },
  };
  for (size_t i = 0; i < writes.size(); ++i) {
    fail = false;
    StatusOr<Json> decoded = writes[i](Answer::kObject);
    EXPECT_FALSE(decoded.ok()) << i << ": a non-JSON answer must fail when the object is asked for";
    StatusOr<Json> outcome = writes[i](Answer::kOutcomeOnly);
    ASSERT_TRUE(outcome.ok()) << i << ": " << outcome.status().ToString();
    EXPECT_TRUE(outcome->is_null()) << i;
    fail = true;
    StatusOr<Json> error = writes[i](Answer::kOutcomeOnly);
    ASSERT_FALSE(error.ok()) << i;
    EXPECT_EQ(error.code(), StatusCode::kAlreadyExists) << i;
    EXPECT_EQ(ApiStatusOf(error).reason, "AlreadyExists") << i;
    EXPECT_NE(error.status().message().find("already exists"), std::string::npos) << i;
  }
}

TEST(HttpClientTest, DeleteOptionsBody) {
  Fixture f([](const Request&) { return Json200(kPod); });
  DeleteOptions options;
  options.propagation_policy = "Foreground";
  options.precondition_uid = "u-1";
  options.precondition_resource_version = "7";
  options.grace_period_seconds = 0;
  ASSERT_TRUE(f.client->Delete(TrainingJobsResource(), "ns", "tj", options).ok());
  auto request = f.server.requests().back();
  EXPECT_EQ(request.method, "DELETE");
  EXPECT_EQ(request.target, "/apis/ringleader.dev/v1alpha1/namespaces/ns/trainingjobs/tj");
  Json body = Json::parse(request.body);
  EXPECT_EQ(body["kind"], "DeleteOptions");
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["uid"], "u-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "7");
  EXPECT_EQ(body["gracePeriodSeconds"], 0);
}

std::string Event(const std::string& type, const std::string& name, int rv) {
  return Json{{"type", type},
              {"object", {{"kind", "Pod"}, {"metadata", {{"name", name}, {"resourceVersion", std::to_string(rv)}}}}}}
             .dump() + "\n";
}

TEST(HttpClientTest, WatchDecodesSplitAndMergedChunks) {
  std::string stream = Event("ADDED", "a", 11) + Event("MODIFIED", "a", 12) +
                       Event("BOOKMARK", "", 13) + Event("DELETED", "a", 14);
  Fixture f([&](const Request&) {
    Response r;
    // Cut the stream at odd places: mid-line, two lines in one chunk, ...
    r.chunks = {stream.substr(0, 7), stream.substr(7, 60), stream.substr(67, 100),
                stream.substr(167)};
    return r;
  });
  std::vector<std::pair<WatchEventType, std::string>> seen;
  WatchOptions options;
  options.resource_version = "10";
  options.label_selector = "app=x";
  options.timeout_seconds = 30;
  Status status = f.client->Watch(PodsResource(), "ns", options, [&](WatchEvent&& e) {
    seen.emplace_back(e.type, e.object["metadata"]["resourceVersion"].get<std::string>());
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.ToString();
  std::vector<std::pair<WatchEventType, std::string>> want = {
      {WatchEventType::kAdded, "11"},
      {WatchEventType::kModified, "12"},
      {WatchEventType::kBookmark, "13"},
      {WatchEventType::kDeleted, "14"}};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(f.server.requests()[0].target,
            "/api/v1/namespaces/ns/pods?watch=1&labelSelector=app%3Dx&resourceVersion=10&"
            "allowWatchBookmarks=true&timeoutSeconds=30");
}

TEST(HttpClientTest, WatchErrorEventIsGone) {
  Fixture f([](const Request&) {
    Response r;
    r.chunks = {Event("ADDED", "a", 2),
                R"J({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "too old resource version: 1 (190)", "reason": "Expired", "code": 410}})J"
                "\n",
                Event("ADDED", "never", 3)};
    return r;
  });
  std::vector<WatchEventType> seen;
  Status status = f.client->Watch(PodsResource(), "", {}, [&](WatchEvent&& e) {
    seen.push_back(e.type);
    return true;
  });
  EXPECT_EQ(status.code(), StatusCode::kGone) << status.ToString();
  EXPECT_EQ(seen, (std::vector<WatchEventType>{WatchEventType::kAdded, WatchEventType::kError}));
}

TEST(HttpClientTest, WatchGarbageEndsTheStream) {
  Fixture f([](const Request&) {
    Response r;
    r.chunks = {Event("ADDED", "a", 2), "this is not json\n", Event("ADDED", "b", 3)};
    r.hold_open = true;
    return r;
  });
  int seen = 0;
  Status status = f.client->Watch(PodsResource(), "", {}, [&](WatchEvent&&) {
    ++seen;
    return true;
  });
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_EQ(seen, 1);
}

TEST(HttpClientTest, WatchHttpErrorAndHandlerStop) {
  {
    Fixture f([](const Request&) { return StatusResponse(403, "Forbidden", "no watching"); });
    Status status = f.client->Watch(PodsResource(), "", {}, [](WatchEvent&&) { return true; });
    EXPECT_EQ(status.code(), StatusCode::kPermissionDenied);
    EXPECT_NE(status.message().find("no watching"), std::string::npos);
  }
  {
    Fixture f([](const Request&) {
      Response r;
      r.chunks = {Event("ADDED", "a", 2) + Event("ADDED", "b", 3)};
      r.hold_open = true;
      return r;
    });
    int seen = 0;
    Status status = f.client->Watch(PodsResource(), "", {}, [&](WatchEvent&&) {
      ++seen;
      return false;  // stop after the first event
    });
    EXPECT_TRUE(status.ok());
    EXPECT_EQ(seen, 1);
  }
}

TEST(HttpClientTest, WatchHandlerExceptionIsContained) {
  Fixture f([](const Request&) {
    Response r;
    r.chunks = {Event("ADDED", "a", 2)};
    r.hold_open = true;
    return r;
  });
  Status status = f.client->Watch(PodsResource(), "", {}, [](WatchEvent&&) -> bool {
    throw std::runtime_error("handler bug");
  });
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("handler bug"), std::string::npos);
}

TEST(HttpClientTest, WatchIsCancellable) {
  Fixture f([](const Request&) {
    Response r;
    r.chunks = {Event("ADDED", "a", 2)};
    r.hold_open = true;  // then silence: only a stop request ends this watch
    return r;
  });
  std::stop_source stop;
  std::atomic<bool> got_event{false};
  std::thread canceller([&] {
    while (!got_event) std::this_thread::yield();
    stop.request_stop();
  });
  Status status = f.client->Watch(
      PodsResource(), "", {},
      [&](WatchEvent&&) {
        got_event = true;
        return true;
      },
      stop.get_token());
  canceller.join();
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_TRUE(got_event);
}

TEST(HttpClientTest, ConnectionRefusedIsUnavailable) {
  int port;
  { ScriptedHttpServer closed([](const Request&) { return Response{}; }); port = closed.port(); }
  RestConfig config;
  config.server = "http://127.0.0.1:" + std::to_string(port);
  HttpClientOptions options;
  options.max_retries = 1;
  options.retry_backoff = std::chrono::milliseconds(1);
  metrics::Registry registry;
  options.registry = &registry;
  auto client = HttpClient::Create(config, options);
  ASSERT_TRUE(client.ok());
  StatusOr<Json> got = (*client)->Get(PodsResource(), "ns", "p1");
  EXPECT_EQ(got.code(), StatusCode::kUnavailable);
  EXPECT_EQ(ApiStatusOf(got).http_code, 0);
  EXPECT_EQ(registry.AddCounter("ringleader_api_requests_total", "", {"verb", "code"})
                .WithLabels({"get", "error"})
                .Value(),
            2);
  Status watched = (*client)->Watch(PodsResource(), "", {}, [](WatchEvent&&) { return true; });
  EXPECT_EQ(watched.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ringleader::kube
