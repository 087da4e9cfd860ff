#include <gtest/gtest.h>

#include "ringleader/api/resources.h"
#include "ringleader/kube/api_error.h"
#include "ringleader/kube/resource.h"

namespace ringleader::kube {
namespace {

struct PathCase {
  GroupVersionResource gvr;
  std::string ns, name, sub;
  std::string collection, object;
};

TEST(ResourceTest, Paths) {
  const std::vector<PathCase> cases = {
      {PodsResource(), "default", "p1", "", "/api/v1/namespaces/default/pods",
       "/api/v1/namespaces/default/pods/p1"},
      {PodsResource(), "", "p1", "", "/api/v1/pods", "/api/v1/pods/p1"},
      {PodsResource(), "ns", "p1", "status", "/api/v1/namespaces/ns/pods",
       "/api/v1/namespaces/ns/pods/p1/status"},
      {NodesResource(), "ignored", "n1", "", "/api/v1/nodes", "/api/v1/nodes/n1"},
      {TrainingJobsResource(), "team", "tj", "status",
       "/apis/ringleader.dev/v1alpha1/namespaces/team/trainingjobs",
       "/apis/ringleader.dev/v1alpha1/namespaces/team/trainingjobs/tj/status"},
      {LeasesResource(), "kube-system", "l", "",
       "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
       "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l"},
      {VolcanoPodGroupsResource(), "a", "g", "",
       "/apis/scheduling.volcano.sh/v1beta1/namespaces/a/podgroups",
       "/apis/scheduling.volcano.sh/v1beta1/namespaces/a/podgroups/g"},
      {CoschedulingPodGroupsResource(), "a", "g", "",
       "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/a/podgroups",
       "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/a/podgroups/g"},
      {CustomResourceDefinitionsResource(), "x", "trainingjobs.ringleader.dev", "",
       "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
       "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/trainingjobs.ringleader.dev"},
      {ServicesResource(), "a b", "s/1", "", "/api/v1/namespaces/a%20b/services",
       "/api/v1/namespaces/a%20b/services/s%2F1"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.gvr.CollectionPath(c.ns), c.collection) << c.gvr.ToString();
    EXPECT_EQ(c.gvr.ObjectPath(c.ns, c.name, c.sub), c.object) << c.gvr.ToString();
  }
  EXPECT_EQ(PodsResource().ApiVersion(), "v1");
  EXPECT_EQ(TrainingJobsResource().ApiVersion(), "ringleader.dev/v1alpha1");
  EXPECT_EQ(TrainingJobsResource().ToString(), "trainingjobs.ringleader.dev");
  EXPECT_EQ(EventsResource().ToString(), "events");
}

TEST(ResourceTest, KeysAndEncoding) {
  EXPECT_EQ(MakeKey("ns", "n"), "ns/n");
  EXPECT_EQ(MakeKey("", "node1"), "node1");
  EXPECT_EQ(SplitKey("ns/n"), std::make_pair(std::string("ns"), std::string("n")));
  EXPECT_EQ(SplitKey("node1"), std::make_pair(std::string(""), std::string("node1")));
  EXPECT_EQ(UrlEncode("app=x,tier in (a,b)"), "app%3Dx%2Ctier%20in%20%28a%2Cb%29");
  EXPECT_EQ(UrlEncode("a-b_c.d~"), "a-b_c.d~");
}

struct MapCase {
  int http;
  std::string reason;
  StatusCode want;
};

TEST(ApiErrorTest, MapsHttpStatus) {
  const std::vector<MapCase> cases = {
      {404, "NotFound", StatusCode::kNotFound},
      {409, "AlreadyExists", StatusCode::kAlreadyExists},
      {409, "Conflict", StatusCode::kConflict},
      {409, "", StatusCode::kConflict},
      {422, "Invalid", StatusCode::kInvalidArgument},
      {400, "BadRequest", StatusCode::kInvalidArgument},
      {401, "Unauthorized", StatusCode::kPermissionDenied},
      {403, "Forbidden", StatusCode::kPermissionDenied},
      {410, "Expired", StatusCode::kGone},
      {410, "Gone", StatusCode::kGone},
      {415, "UnsupportedMediaType", StatusCode::kUnimplemented},
      {429, "TooManyRequests", StatusCode::kResourceExhausted},
      {500, "InternalError", StatusCode::kUnavailable},
      {503, "ServiceUnavailable", StatusCode::kUnavailable},
      {504, "Timeout", StatusCode::kUnavailable},
      {0, "", StatusCode::kUnavailable},
      {405, "MethodNotAllowed", StatusCode::kInvalidArgument},
      {200, "", StatusCode::kOk},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(MapHttpStatus(c.http, c.reason), c.want) << c.http << " " << c.reason;
  }
}

// Bodies recorded from a real kube-apiserver (shared/k8s-api-reference/transcript.jsonl).
TEST(ApiErrorTest, ParsesRealStatusBodies) {
  const std::string invalid = R"({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Widget.example.dev \"bad\" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1", "reason": "Invalid", "details": {"name": "bad", "group": "example.dev", "kind": "Widget", "causes": [{"reason": "FieldValueInvalid", "message": "Invalid value: 0: spec.size in body should be greater than or equal to 1", "field": "spec.size"}]}, "code": 422})";
  ApiStatus api = ParseApiStatus(422, invalid);
  EXPECT_EQ(api.http_code, 422);
  EXPECT_EQ(api.reason, "Invalid");
  EXPECT_EQ(api.details_name, "bad");
  EXPECT_EQ(api.details_kind, "Widget");
  ASSERT_EQ(api.causes.size(), 1u);
  EXPECT_EQ(api.causes[0].field, "spec.size");
  EXPECT_EQ(api.causes[0].reason, "FieldValueInvalid");
  Status status = ToStatus(api, "POST /apis/example.dev/v1alpha1/namespaces/d/widgets");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("spec.size in body should be greater"), std::string::npos);
  EXPECT_NE(status.message().find("causes: spec.size:"), std::string::npos);

  const std::string exists = R"({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "widgets.example.dev \"w2\" already exists", "reason": "AlreadyExists", "details": {"name": "w2", "group": "example.dev", "kind": "widgets"}, "code": 409})";
  EXPECT_EQ(ToStatus(ParseApiStatus(409, exists), "").code(), StatusCode::kAlreadyExists);
  const std::string conflict = R"({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Operation cannot be fulfilled on widgets.example.dev \"w1\": the object has been modified; please apply your changes to the latest version and try again", "reason": "Conflict", "details": {"name": "w1", "group": "example.dev", "kind": "widgets"}, "code": 409})";
  EXPECT_EQ(ToStatus(ParseApiStatus(409, conflict), "").code(), StatusCode::kConflict);

  ApiStatus html = ParseApiStatus(502, "<html>bad gateway</html>");
  EXPECT_EQ(html.message, "<html>bad gateway</html>");
  EXPECT_EQ(ToStatus(html, "GET /x").code(), StatusCode::kUnavailable);

  ApiStatus retry = ParseApiStatus(
      429, R"({"kind":"Status","reason":"TooManyRequests","details":{"retryAfterSeconds":3},"code":429})");
  ASSERT_TRUE(retry.retry_after_seconds.has_value());
  EXPECT_EQ(*retry.retry_after_seconds, 3);
}

// A broken server or proxy can send a Status with fields of any type. nlohmann's value()
// throws type_error.302 for those; ParseApiStatus must treat them as absent instead.
TEST(ApiErrorTest, WronglyTypedStatusFieldsAreIgnored) {
  struct Case {
    std::string name;
    int http_code;
    std::string body;
    ApiStatus want;
  };
  auto status = [](int code, std::string reason, std::string message, std::string details_name = "",
                   std::string details_kind = "", std::optional<int> retry_after = std::nullopt) {
    ApiStatus api;
    api.http_code = code;
    api.reason = std::move(reason);
    api.message = std::move(message);
    api.details_name = std::move(details_name);
    api.details_kind = std::move(details_kind);
    api.retry_after_seconds = retry_after;
    return api;
  };
  const std::vector<Case> cases = {
      // kind is not a string: not a Status, the body is kept as the message.
      {"kind number", 500, R"({"kind":1})", status(500, "", R"({"kind":1})")},
      {"kind zero", 500, R"({"kind":0})", status(500, "", R"({"kind":0})")},
      {"kind null", 500, R"({"kind":null})", status(500, "", R"({"kind":null})")},
      {"kind object", 500, R"({"kind":{"a":1}})", status(500, "", R"({"kind":{"a":1}})")},
      {"top-level array", 500, R"([1,2])", status(500, "", "[1,2]")},
      {"top-level string", 500, R"("Status")", status(500, "", R"("Status")")},
      {"reason number", 409, R"({"kind":"Status","reason":409,"message":"m"})",
       status(409, "", "m")},
      {"message null", 404, R"({"kind":"Status","reason":"NotFound","message":null})",
       status(404, "NotFound", "")},
      {"message array", 404, R"({"kind":"Status","reason":"NotFound","message":["x"]})",
       status(404, "NotFound", "")},
      {"details not an object", 422, R"({"kind":"Status","reason":"Invalid","details":"x"})",
       status(422, "Invalid", "")},
      {"details.name number", 422,
       R"({"kind":"Status","reason":"Invalid","details":{"name":5,"kind":"Widget"}})",
       status(422, "Invalid", "", "", "Widget")},
      {"details.kind null", 422,
       R"({"kind":"Status","reason":"Invalid","details":{"name":"w","kind":null}})",
       status(422, "Invalid", "", "w", "")},
      {"causes not an array", 422, R"({"kind":"Status","details":{"causes":{"field":"a"}}})",
       status(422, "", "")},
      {"retryAfterSeconds string", 429, R"({"kind":"Status","details":{"retryAfterSeconds":"3"}})",
       status(429, "", "")},
      {"retryAfterSeconds negative", 429, R"({"kind":"Status","details":{"retryAfterSeconds":-5}})",
       status(429, "", "")},
      {"retryAfterSeconds float", 429, R"({"kind":"Status","details":{"retryAfterSeconds":1.2}})",
       status(429, "", "", "", "", 2)},
      {"retryAfterSeconds huge float", 429,
       R"({"kind":"Status","details":{"retryAfterSeconds":1e300}})",
       status(429, "", "", "", "", kMaxRetryAfterSeconds)},
      {"retryAfterSeconds above int64", 429,
       R"({"kind":"Status","details":{"retryAfterSeconds":18446744073709551615}})",
       status(429, "", "", "", "", kMaxRetryAfterSeconds)},
      {"retryAfterSeconds above int32", 429,
       R"({"kind":"Status","details":{"retryAfterSeconds":4294967296}})",
       status(429, "", "", "", "", kMaxRetryAfterSeconds)},
      // code is only used when there was no HTTP status; a wrong type or range is ignored.
      {"code string", 0, R"({"kind":"Status","code":"500"})", status(0, "", "")},
      {"code out of range", 0, R"({"kind":"Status","code":4294967704})", status(0, "", "")},
      {"code float", 0, R"({"kind":"Status","code":503.0})", status(0, "", "")},
      {"code valid", 0, R"({"kind":"Status","code":503})", status(503, "", "")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ApiStatus got;
    ASSERT_NO_THROW(got = ParseApiStatus(c.http_code, c.body));
    EXPECT_EQ(got.http_code, c.want.http_code);
    EXPECT_EQ(got.reason, c.want.reason);
    EXPECT_EQ(got.message, c.want.message);
    EXPECT_EQ(got.details_name, c.want.details_name);
    EXPECT_EQ(got.details_kind, c.want.details_kind);
    EXPECT_EQ(got.retry_after_seconds, c.want.retry_after_seconds);
    EXPECT_TRUE(got.causes.empty());
    EXPECT_NO_THROW((void)ToStatus(got, "GET /x"));
  }

  // Causes: wrongly-typed entries and fields are skipped or read as "".
  ApiStatus causes = ParseApiStatus(
      422, R"({"kind":"Status","details":{"causes":[7,null,{"reason":false,"message":"m","field":3},
              {"reason":"FieldValueRequired","field":"spec.x"}]}})");
  ASSERT_EQ(causes.causes.size(), 2u);
  EXPECT_EQ(causes.causes[0].reason, "");
  EXPECT_EQ(causes.causes[0].message, "m");
  EXPECT_EQ(causes.causes[0].field, "");
  EXPECT_EQ(causes.causes[1].reason, "FieldValueRequired");
  EXPECT_EQ(causes.causes[1].field, "spec.x");
}

TEST(ApiErrorTest, ParsesRetryAfterHeader) {
  const std::vector<std::pair<std::string, std::optional<int>>> cases = {
      {"0", 0},
      {"1", 1},
      {" 120 ", 120},
      {"86400", kMaxRetryAfterSeconds},
      {"86401", kMaxRetryAfterSeconds},
      {"99999999999999999999999999", kMaxRetryAfterSeconds},  // saturates, no overflow
      {"", std::nullopt},
      {"-1", std::nullopt},
      {"1.5", std::nullopt},
      {"Wed, 21 Oct 2015 07:28:00 GMT", std::nullopt},  // HTTP-date: our own backoff
  };
  for (const auto& [header, want] : cases) {
    EXPECT_EQ(ParseRetryAfter(header), want) << "\"" << header << "\"";
  }
}

TEST(ApiErrorTest, ApiResultCarriesStatusObject) {
  ApiStatus api;
  api.http_code = 404;
  api.reason = "NotFound";
  StatusOr<int> result(ToStatus(api, "GET /x"));
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.IsNotFound());
  EXPECT_EQ(ApiStatusOf(result).reason, "NotFound");
  StatusOr<int> converted = std::move(result);
  EXPECT_EQ(converted.status().code(), StatusCode::kNotFound);
  StatusOr<int> good(7);
  EXPECT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
}

}  // namespace
}  // namespace ringleader::kube
