#include <gtest/gtest.h>

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

TEST(ApiErrorTest, ApiResultCarriesStatusObject) {
  ApiStatus api;
  api.http_code = 404;
  api.reason = "NotFound";
  ApiResult<int> result(ToStatus(api, "GET /x"), api);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.IsNotFound());
  EXPECT_EQ(result.api_status().reason, "NotFound");
  StatusOr<int> converted = std::move(result).ToStatusOr();
  EXPECT_EQ(converted.status().code(), StatusCode::kNotFound);
  ApiResult<int> good(7);
  EXPECT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
}

}  // namespace
}  // namespace ringleader::kube
