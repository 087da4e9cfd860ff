#pragma once
// Kubernetes label and field selectors as the API server parses them from the
// `labelSelector` / `fieldSelector` query parameters.
//
// Label selector grammar (k8s.io/apimachinery/pkg/labels): comma-separated requirements,
// each `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists) or `!k`.
// Field selectors: `path=v`, `path==v`, `path!=v`, where path is a dotted JSON path into
// the object (metadata.name, spec.nodeName, status.phase, involvedObject.uid, ...).
//
// Thread-safety: immutable after Parse; safe to share.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ringleader/common/status.h"

namespace ringleader::testapi {

class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };

  // An empty string selects everything.
  static StatusOr<LabelSelector> Parse(const std::string& text);
  bool Matches(const std::map<std::string, std::string>& labels) const;
  // `labels` is an object's metadata.labels (null or missing means no labels).
  bool MatchesJson(const nlohmann::json& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  struct Requirement {
    std::string path;  // dotted, e.g. "spec.nodeName"
    bool negate;
    std::string value;
  };

  static StatusOr<FieldSelector> Parse(const std::string& text);
  // A missing field compares as "" (so `spec.nodeName=` selects unbound pods, as in k8s).
  bool Matches(const nlohmann::json& object) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  // The metadata.name this selector pins with `=`, or "" (watch on a single object).
  std::string PinnedName() const;

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace ringleader::testapi
