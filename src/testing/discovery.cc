// Discovery documents (/api, /apis, /apis/<g>/<v>), /version, and OpenAPI v2/v3 so that
// real kubectl (apply, get, explain) works against the test server.

#include <set>

#include "server_impl.h"

namespace ringleader::testapi {

extern const char kOpenApiMetaSchemas[];

namespace {

std::string ReversedGroup(const std::string& group) {
  std::vector<std::string> parts = Split(group, '.');
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out;
}

std::string HashHex(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llX%016llX", static_cast<unsigned long long>(h),
                static_cast<unsigned long long>(h * 31 + text.size()));
  return buf;
}

const json& MetaSchemas() {
  static const json kSchemas = json::parse(kOpenApiMetaSchemas);
  return kSchemas;
}

}  // namespace

json TestApiServer::Impl::ApiGroupList() const {
  json groups = json::array();
  std::set<std::string> seen;
  for (const auto& t : types_) {
    if (!t.active || t.group.empty() || !seen.insert(t.group + "/" + t.version).second) continue;
    json gv = {{"groupVersion", t.group + "/" + t.version}, {"version", t.version}};
    bool merged = false;
    for (auto& g : groups) {
      if (g["name"] == t.group) {
        g["versions"].push_back(gv);
        merged = true;
      }
    }
    if (!merged) groups.push_back({{"name", t.group}, {"versions", {gv}}, {"preferredVersion", gv}});
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::optional<json> TestApiServer::Impl::ApiResourceList(const std::string& group_version) const {
  json resources = json::array();
  bool found = false;
  for (const auto& t : types_) {
    if (!t.active || t.ApiVersion() != group_version) continue;
    found = true;
    json r = {{"name", t.plural}, {"singularName", t.singular}, {"namespaced", t.namespaced}, {"kind", t.kind},
              {"verbs", {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}}};
    if (!t.short_names.empty()) r["shortNames"] = t.short_names;
    if (!t.categories.empty()) r["categories"] = t.categories;
    resources.push_back(r);
    if (t.has_status) {
      resources.push_back({{"name", t.plural + "/status"}, {"singularName", ""}, {"namespaced", t.namespaced},
                           {"kind", t.kind}, {"verbs", {"get", "patch", "update"}}});
    }
  }
  if (!found) return std::nullopt;
  return json{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", group_version},
              {"resources", resources}};
}

std::optional<json> TestApiServer::Impl::OpenApiV3Document(const std::string& group_version) const {
  json schemas = json::object();
  json paths = json::object();
  bool found = false;
  for (const auto& t : types_) {
    if (!t.active || !t.custom || t.ApiVersion() != group_version) continue;
    found = true;
    std::string prefix = ReversedGroup(t.group) + "." + t.version + ".";
    json s = t.schema.is_object() ? t.schema : json::object();
    s["type"] = "object";
    s["properties"]["apiVersion"] = {
        {"type", "string"},
        {"description", "APIVersion defines the versioned schema of this representation of an object."}};
    s["properties"]["kind"] = {{"type", "string"},
                               {"description", "Kind is a string value representing the REST resource this object represents."}};
    s["properties"]["metadata"] = {
        {"description", "Standard object's metadata."},
        {"allOf", {{{"$ref", "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}}}}};
    s["x-kubernetes-group-version-kind"] = {{{"group", t.group}, {"kind", t.kind}, {"version", t.version}}};
    schemas[prefix + t.kind] = s;
    // kubectl explain maps a resource to its schema through the path of the object.
    json gvk = {{"group", t.group}, {"version", t.version}, {"kind", t.kind}};
    auto op = [&](const std::string& action, const std::string& ref) {
      return json{{"get",
                   {{"operationId", action + t.kind},
                    {"responses",
                     {{"200", {{"description", "OK"},
                               {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/" + ref}}}}}}}}}}},
                    {"x-kubernetes-action", action},
                    {"x-kubernetes-group-version-kind", gvk}}}};
    };
    std::string base = "/apis/" + t.ApiVersion() + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;
    paths[base] = op("list", prefix + t.list_kind);
    paths[base + "/{name}"] = op("get", prefix + t.kind);
    if (t.has_status) paths[base + "/{name}/status"] = op("get", prefix + t.kind);
    schemas[prefix + t.list_kind] = {
        {"type", "object"},
        {"required", {"items"}},
        {"description", t.kind + "List is a list of " + t.kind},
        {"properties",
         {{"apiVersion", {{"type", "string"}}},
          {"kind", {{"type", "string"}}},
          {"items", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/" + prefix + t.kind}}}}},
          {"metadata", {{"allOf", {{{"$ref", "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"}}}}}}}},
        {"x-kubernetes-group-version-kind", {{{"group", t.group}, {"kind", t.list_kind}, {"version", t.version}}}}};
  }
  if (!found) return std::nullopt;
  for (auto it = MetaSchemas().begin(); it != MetaSchemas().end(); ++it) schemas[it.key()] = it.value();
  return json{{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes CRD Swagger"}, {"version", "v0.1.0"}}},
              {"paths", paths},
              {"components", {{"schemas", schemas}}}};
}

json TestApiServer::Impl::OpenApiV3Index() const {
  json paths = json::object();
  std::set<std::string> seen;
  for (const auto& t : types_) {
    if (!t.active || !t.custom || !seen.insert(t.ApiVersion()).second) continue;
    auto doc = OpenApiV3Document(t.ApiVersion());
    if (!doc) continue;
    std::string key = "apis/" + t.ApiVersion();
    paths[key] = {{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + HashHex(doc->dump())}};
  }
  return {{"paths", paths}};
}

bool TestApiServer::Impl::HandleDiscovery(const HttpRequest& req, HttpResponseWriter& out) {
  if (req.method != "GET") return false;
  const std::string& p = req.path;
  auto send = [&](int code, const json& body) { out.Send(code, "application/json", body.dump()); };
  if (p == "/version" || p == "/version/") {
    send(200, {{"major", "1"}, {"minor", "32"}, {"gitVersion", "v1.32.0-ringleader"},
               {"gitCommit", "ringleader-testapiserver"}, {"gitTreeState", "clean"},
               {"buildDate", "2026-01-01T00:00:00Z"}, {"goVersion", "go1.23.0"}, {"compiler", "gc"},
               {"platform", "linux/amd64"}});
    return true;
  }
  if (p == "/healthz" || p == "/readyz" || p == "/livez") {
    out.Send(200, "text/plain; charset=utf-8", "ok");
    return true;
  }
  if (p == "/api" || p == "/api/") {
    send(200, {{"kind", "APIVersions"},
               {"versions", {"v1"}},
               {"serverAddressByClientCIDRs",
                {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", options_.listen_host + ":" + std::to_string(http_->port())}}}}});
    return true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (p == "/apis" || p == "/apis/") {
    send(200, ApiGroupList());
    return true;
  }
  if (p == "/api/v1") {
    send(200, *ApiResourceList("v1"));
    return true;
  }
  if (p.rfind("/apis/", 0) == 0) {
    std::string rest = p.substr(6);
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    size_t slashes = std::count(rest.begin(), rest.end(), '/');
    if (slashes == 0) {
      json list = ApiGroupList();
      for (const auto& g : list["groups"]) {
        if (g["name"] == rest) {
          json group = g;
          group["kind"] = "APIGroup";
          group["apiVersion"] = "v1";
          send(200, group);
          return true;
        }
      }
      send(404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
      return true;
    }
    if (slashes == 1) {
      auto list = ApiResourceList(rest);
      if (list) {
        send(200, *list);
      } else {
        send(404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
      }
      return true;
    }
    return false;
  }
  if (p == "/openapi/v2") {
    // No schemas are published in v2. kubectl asks for the gnostic protobuf encoding and
    // cannot read JSON there, so answer with a minimal openapi_v2.Document in protobuf:
    // swagger (field 1) = "2.0", info (field 2) = {title (1), version (2)}.
    if (req.Header("accept").find("protobuf") != std::string::npos) {
      auto field = [](int number, const std::string& bytes) {
        return std::string(1, static_cast<char>((number << 3) | 2)) + std::string(1, static_cast<char>(bytes.size())) +
               bytes;
      };
      std::string doc = field(1, "2.0") + field(2, field(1, "Kubernetes") + field(2, "v1.32.0"));
      out.Send(200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", doc);
      return true;
    }
    send(200, {{"swagger", "2.0"}, {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
               {"paths", json::object()}, {"definitions", json::object()}});
    return true;
  }
  if (p == "/openapi/v3" || p == "/openapi/v3/") {
    send(200, OpenApiV3Index());
    return true;
  }
  if (p.rfind("/openapi/v3/apis/", 0) == 0) {
    auto doc = OpenApiV3Document(p.substr(17));
    if (doc) {
      send(200, *doc);
    } else {
      send(404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
    }
    return true;
  }
  return false;
}

}  // namespace ringleader::testapi
