#pragma once
// GroupVersionResource: which REST collection a call talks to, and how its URL is built.
//
// Thread-safety: value type.

#include <string>
#include <string_view>

namespace ringleader::kube {

struct GroupVersionResource {
  std::string group;     // "" for the core group
  std::string version;   // "v1", "v1alpha1", ...
  std::string resource;  // plural, lower case: "pods", "trainingjobs"
  bool namespaced = true;

  // "v1" or "group/version": the apiVersion field of objects of this resource.
  std::string ApiVersion() const;
  // "/api/v1" or "/apis/group/version".
  std::string GroupVersionPath() const;
  // Collection path; `ns` is ignored for cluster-scoped resources and an empty `ns` on a
  // namespaced resource means "all namespaces" (valid for list and watch only).
  std::string CollectionPath(std::string_view ns) const;
  // Object path: CollectionPath(ns) + "/" + name, plus "/" + subresource when not empty.
  std::string ObjectPath(std::string_view ns, std::string_view name,
                         std::string_view subresource = {}) const;
  // "pods", "trainingjobs.ringleader.dev": for logs and metric labels.
  std::string ToString() const;

  bool operator==(const GroupVersionResource&) const = default;
};

// Core and built-in resources. The app's custom resources are declared by the app
// (ringleader/api/resources.h).
GroupVersionResource PodsResource();
GroupVersionResource ServicesResource();
GroupVersionResource EventsResource();            // core/v1 events
GroupVersionResource NodesResource();             // cluster-scoped
GroupVersionResource NamespacesResource();        // cluster-scoped
GroupVersionResource LeasesResource();            // coordination.k8s.io/v1
GroupVersionResource CustomResourceDefinitionsResource();  // apiextensions.k8s.io/v1, cluster

// Percent-encodes a query parameter value (RFC 3986 unreserved characters pass through).
std::string UrlEncode(std::string_view value);

// "namespace/name", or "name" when the namespace is empty (client-go's MetaNamespaceKey).
std::string MakeKey(std::string_view ns, std::string_view name);
// Splits a key made by MakeKey into {namespace, name}.
std::pair<std::string, std::string> SplitKey(std::string_view key);

}  // namespace ringleader::kube
