#pragma once
// FieldList: one declarative list of the members a cache keeps of an object, from which both
// the informer's decode mask (FieldMask) and the cache transform (Trim) derive, so that the two
// cannot disagree.
//
// The list is a FieldMask spelling ("metadata(name,labels),spec(nodeName)") plus refinements
// that a decoder cannot apply while lexing but a trim can: keep only some elements of an array,
// only some members of an object, and drop a member a refinement left empty. Paths are dotted
// member names; arrays on the way are transparent ("spec.containers.resources" is the
// resources of every container).
//
// Trim keeps exactly what the mask keeps (as DecodeMasked would), then applies the
// refinements in the order they were added. Hence Trim(DecodeMasked(text, mask())) equals
// Trim(parse(text)) for every object.
//
// Thread-safety: build once, then immutable; Trim and mask() are safe from any thread.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/common/status.h"
#include "ringleader/kube/field_mask.h"

namespace ringleader::kube {

class FieldList {
 public:
  // kInvalidArgument for a malformed spelling (FieldMask::Parse).
  static StatusOr<FieldList> Parse(std::string_view spelling);

  // At `path` (an array): keeps the elements for which `keep` is true.
  FieldList& KeepElementsWhere(std::string path, std::function<bool(const nlohmann::json&)> keep);
  // At `path` (an array): keeps only the first element for which `keep` is true.
  FieldList& KeepFirstElementWhere(std::string path, std::function<bool(const nlohmann::json&)> keep);
  // At `path` (an object): keeps the members whose name passes `keep`.
  FieldList& KeepMembersWhere(std::string path, std::function<bool(std::string_view)> keep);
  // Removes the member at `path` when it is an empty object or array after what came before.
  FieldList& DropWhenEmpty(std::string path);

  // What the informer decodes (shared, so that informers can hold it).
  const std::shared_ptr<const FieldMask>& mask() const { return mask_; }
  // Keeps only what the list names; objects of any shape (server JSON) never throw.
  void Trim(nlohmann::json& object) const;

 private:
  struct Refinement {
    std::vector<std::string> path;
    std::function<void(nlohmann::json&)> apply;  // on the value at path
  };

  explicit FieldList(std::shared_ptr<const FieldMask> mask) : mask_(std::move(mask)) {}
  FieldList& Add(std::string_view path, std::function<void(nlohmann::json&)> apply, bool on_parent);

  std::shared_ptr<const FieldMask> mask_;
  std::vector<Refinement> refinements_;
};

// Drops from `value` what `mask` does not keep: the tree form of DecodeMasked.
void ApplyMask(nlohmann::json& value, const FieldMask& mask);

}  // namespace ringleader::kube
