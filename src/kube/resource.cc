#include "ringleader/kube/resource.h"

#include <cstdio>

namespace ringleader::kube {

std::string GroupVersionResource::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string GroupVersionResource::GroupVersionPath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

std::string GroupVersionResource::CollectionPath(std::string_view ns) const {
  std::string path = GroupVersionPath();
  if (namespaced && !ns.empty()) {
    path += "/namespaces/";
    path += UrlEncode(ns);
  }
  path += "/" + resource;
  return path;
}

std::string GroupVersionResource::ObjectPath(std::string_view ns, std::string_view name,
                                             std::string_view subresource) const {
  std::string path = CollectionPath(ns) + "/" + UrlEncode(name);
  if (!subresource.empty()) {
    path += "/";
    path += subresource;
  }
  return path;
}

std::string GroupVersionResource::ToString() const {
  return group.empty() ? resource : resource + "." + group;
}

GroupVersionResource PodsResource() { return {"", "v1", "pods", true}; }
GroupVersionResource ServicesResource() { return {"", "v1", "services", true}; }
GroupVersionResource EventsResource() { return {"", "v1", "events", true}; }
GroupVersionResource NodesResource() { return {"", "v1", "nodes", false}; }
GroupVersionResource NamespacesResource() { return {"", "v1", "namespaces", false}; }
GroupVersionResource LeasesResource() { return {"coordination.k8s.io", "v1", "leases", true}; }
GroupVersionResource CustomResourceDefinitionsResource() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};
}

std::string UrlEncode(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string MakeKey(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  std::string key(ns);
  key += "/";
  key += name;
  return key;
}

std::pair<std::string, std::string> SplitKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

}  // namespace ringleader::kube
