#include "ringleader/kube/field_list.h"

#include "ringleader/common/split.h"

#include <utility>

namespace ringleader::kube {
namespace {

using nlohmann::json;


// Calls `apply` on every value at path[at...] below `value`; arrays on the way are transparent
// (the value at the end of the path is passed as it is, array or not).
void Visit(json& value, const std::vector<std::string>& path, size_t at, const std::function<void(json&)>& apply) {
  if (at == path.size()) {
    apply(value);
    return;
  }
  if (value.is_array()) {
    for (json& element : value) Visit(element, path, at, apply);
    return;
  }
  if (!value.is_object()) return;
  auto it = value.find(path[at]);
  if (it != value.end()) Visit(*it, path, at + 1, apply);
}

}  // namespace

void ApplyMask(json& value, const FieldMask& mask) {
  if (mask.keeps_all()) return;
  if (value.is_array()) {
    for (json& element : value) ApplyMask(element, mask);
    return;
  }
  if (!value.is_object()) return;  // scalars are kept wherever they meet a mask
  for (auto it = value.begin(); it != value.end();) {
    const FieldMask* member = mask.Member(it.key());
    if (member == nullptr) {
      it = value.erase(it);
    } else {
      ApplyMask(*it, *member);
      ++it;
    }
  }
}

StatusOr<FieldList> FieldList::Parse(std::string_view spelling) {
  StatusOr<FieldMask> mask = FieldMask::Parse(spelling);
  if (!mask.ok()) return mask.status();
  return FieldList(std::make_shared<const FieldMask>(std::move(mask).value()));
}

FieldList& FieldList::Add(std::string_view path, std::function<void(json&)> apply, bool on_parent) {
  std::vector<std::string> parts = Split(path, '.');
  if (on_parent) {
    // DropWhenEmpty edits the object holding the member: visit the parent.
    std::string member = parts.back();
    parts.pop_back();
    std::function<void(json&)> on_object = [member, apply = std::move(apply)](json& parent) {
      if (parent.is_object() && parent.contains(member)) apply(parent);
    };
    refinements_.push_back({std::move(parts), [on_object](json& parent) {
                              if (!parent.is_array()) return on_object(parent);
                              for (json& element : parent) on_object(element);
                            }});
    return *this;
  }
  refinements_.push_back({std::move(parts), std::move(apply)});
  return *this;
}

FieldList& FieldList::KeepElementsWhere(std::string path, std::function<bool(const json&)> keep) {
  return Add(path,
             [keep = std::move(keep)](json& array) {
               if (!array.is_array()) return;
               json kept = json::array();
               for (json& element : array) {
                 if (keep(element)) kept.push_back(std::move(element));
               }
               array = std::move(kept);
             },
             /*on_parent=*/false);
}

FieldList& FieldList::KeepFirstElementWhere(std::string path, std::function<bool(const json&)> keep) {
  return Add(path,
             [keep = std::move(keep)](json& array) {
               if (!array.is_array()) return;
               json kept = json::array();
               for (json& element : array) {
                 if (!keep(element)) continue;
                 kept.push_back(std::move(element));
                 break;
               }
               array = std::move(kept);
             },
             /*on_parent=*/false);
}

FieldList& FieldList::KeepMembersWhere(std::string path, std::function<bool(std::string_view)> keep) {
  return Add(path,
             [keep = std::move(keep)](json& object) {
               if (!object.is_object()) return;
               for (auto it = object.begin(); it != object.end();) {
                 it = keep(it.key()) ? std::next(it) : object.erase(it);
               }
             },
             /*on_parent=*/false);
}

FieldList& FieldList::DropWhenEmpty(std::string path) {
  std::string member = Split(path, '.').back();
  return Add(path,
             [member](json& parent) {
               auto it = parent.find(member);
               if ((it->is_object() || it->is_array()) && it->empty()) parent.erase(it);
             },
             /*on_parent=*/true);
}

void FieldList::Trim(json& object) const {
  ApplyMask(object, *mask_);
  for (const Refinement& refinement : refinements_) Visit(object, refinement.path, 0, refinement.apply);
}

}  // namespace ringleader::kube
