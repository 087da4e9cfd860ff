#pragma once
// FieldMask: the members of a JSON document a reader will look at, so that the decoder can skip
// the rest without building it.
//
// Why: an informer decodes every object the server streams, and a cache transform then throws
// most of it away (a pod's env, volumes, managedFields...). Building those members as json
// nodes and freeing them again was most of a watch event's cost. Decoding through a mask keeps
// the lexer's work but builds and frees only what is named.
//
// Spelling (like the partial-response "fields" of Google APIs): a comma-separated list of
// member names, each optionally followed by a parenthesised mask for its value:
//   "metadata(name,uid,labels),spec(nodeName,containers(resources(requests)))"
// - A name without parentheses keeps that member whole.
// - Members not named are dropped.
// - Arrays are transparent: an array's mask applies to each element.
// - Scalars are kept wherever they meet a mask (a mask describes objects).
// A mask only drops: it never changes, adds or reorders what it keeps. A reader must still
// check types, as for any server JSON.
//
// Thread-safety: immutable after construction; share freely.

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ringleader/common/status.h"

namespace ringleader::kube {

class FieldMask {
 public:
  // The mask that keeps everything.
  FieldMask() = default;
  // kInvalidArgument naming the position for a malformed spelling (empty name, unbalanced or
  // stray parenthesis, a member named twice).
  static StatusOr<FieldMask> Parse(std::string_view spelling);

  bool keeps_all() const { return keep_all_; }
  // The mask for member `name`, or nullptr when the member is dropped.
  const FieldMask* Member(std::string_view name) const;
  // Keeps exactly these members, each with its mask.
  static FieldMask Only(std::map<std::string, FieldMask, std::less<>> members);
  // Keeps what either keeps.
  static FieldMask Union(const FieldMask& a, const FieldMask& b);

 private:
  class Parser;

  bool keep_all_ = true;
  std::map<std::string, FieldMask, std::less<>> members_;
};

// Decodes `text` keeping only what `mask` names. kInvalidArgument for text that is not JSON
// (what Json::parse would reject).
StatusOr<nlohmann::json> DecodeMasked(std::string_view text, const FieldMask& mask);

// What the client's decoders call: DecodeMasked when there is a mask, nlohmann's own parser
// when there is none; a discarded json when `text` is not JSON (as Json::parse with
// allow_exceptions=false).
nlohmann::json DecodeJson(std::string_view text, const FieldMask* mask);

}  // namespace ringleader::kube
