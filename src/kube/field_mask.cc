#include "ringleader/kube/field_mask.h"

#include <cctype>
#include <vector>

namespace ringleader::kube {

namespace {

using Json = nlohmann::json;

// nlohmann's SAX interface, building a json document like its own DOM parser but only where
// the mask reaches. Members the mask drops are skipped (their nested values counted, not built).
class MaskedBuilder {
 public:
  MaskedBuilder(Json& root, const FieldMask& mask) : root_(root), root_mask_(&mask) {}

  bool null() { return Scalar(nullptr); }
  bool boolean(bool v) { return Scalar(v); }
  bool number_integer(Json::number_integer_t v) { return Scalar(v); }
  bool number_unsigned(Json::number_unsigned_t v) { return Scalar(v); }
  bool number_float(Json::number_float_t v, const std::string&) { return Scalar(v); }
  bool string(std::string& v) { return Scalar(std::move(v)); }
  bool binary(Json::binary_t& v) { return Scalar(std::move(v)); }
  bool start_object(std::size_t) { return Open(Json::value_t::object); }
  bool start_array(std::size_t) { return Open(Json::value_t::array); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(std::string& name) {
    if (skip_depth_ > 0) return true;
    Frame& top = frames_.back();
    const FieldMask* child = top.mask->Member(name);
    if (child == nullptr) {
      skip_next_ = true;
      return true;
    }
    member_slot_ = &(*top.value)[std::move(name)];
    member_mask_ = child;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = "byte " + std::to_string(position) + ": " + e.what();
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* value;
    const FieldMask* mask;
  };

  // Where the value being decoded goes, and its mask.
  Json* Slot(const FieldMask** mask) {
    if (frames_.empty()) {
      *mask = root_mask_;
      return &root_;
    }
    Frame& top = frames_.back();
    if (top.value->is_array()) {
      *mask = top.mask;  // arrays are transparent
      top.value->push_back(nullptr);
      return &top.value->back();
    }
    *mask = member_mask_;
    return member_slot_;
  }
  // A value the mask drops (or one nested in it): true when it is to be skipped.
  bool Skipping() {
    if (skip_depth_ > 0) return true;
    if (skip_next_) {
      skip_next_ = false;
      return true;
    }
    return false;
  }
  template <class V>
  bool Scalar(V&& v) {
    if (Skipping()) return true;
    const FieldMask* mask;
    *Slot(&mask) = Json(std::forward<V>(v));
    return true;
  }
  bool Open(Json::value_t type) {
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return true;
    }
    if (Skipping()) {
      skip_depth_ = 1;
      return true;
    }
    const FieldMask* mask;
    Json* slot = Slot(&mask);
    *slot = Json(type);
    frames_.push_back({slot, mask});
    return true;
  }
  bool Close() {
    if (skip_depth_ > 0) {
      --skip_depth_;
      return true;
    }
    frames_.pop_back();
    return true;
  }

  Json& root_;
  const FieldMask* root_mask_;
  std::vector<Frame> frames_;
  int skip_depth_ = 0;      // > 0: inside a dropped object or array
  bool skip_next_ = false;  // the next value belongs to a dropped member
  Json* member_slot_ = nullptr;
  const FieldMask* member_mask_ = nullptr;
  std::string error_;
};

}  // namespace

class FieldMask::Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  // At depth 0 ParseList ends only at the end of the text (a ')' there is an error).
  StatusOr<FieldMask> ParseAll() { return ParseList(0); }

 private:
  StatusOr<FieldMask> ParseList(int depth) {
    std::map<std::string, FieldMask, std::less<>> members;
    while (true) {
      SkipSpace();
      size_t start = pos_;
      while (pos_ < text_.size() && !IsDelimiter(text_[pos_])) ++pos_;
      std::string name(text_.substr(start, pos_ - start));
      if (name.empty()) return Error("expected a member name");
      FieldMask child;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == '(') {
        ++pos_;
        auto inner = ParseList(depth + 1);
        if (!inner.ok()) return inner;
        SkipSpace();
        if (pos_ >= text_.size() || text_[pos_] != ')') return Error("expected ')'");
        ++pos_;
        child = std::move(inner).value();
      }
      if (!members.emplace(name, std::move(child)).second) return Error("member \"" + name + "\" named twice");
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ')' && depth == 0) return Error("unexpected ')'");
      if (pos_ < text_.size() && text_[pos_] != ')') return Error("expected ',' or ')'");
      return Only(std::move(members));
    }
  }

  static bool IsDelimiter(char c) {
    return c == ',' || c == '(' || c == ')' || std::isspace(static_cast<unsigned char>(c));
  }
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  Status Error(const std::string& what) const {
    return InvalidArgumentError("field mask \"" + std::string(text_) + "\": " + what + " at offset " +
                                std::to_string(pos_));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

StatusOr<FieldMask> FieldMask::Parse(std::string_view spelling) { return Parser(spelling).ParseAll(); }

FieldMask FieldMask::Only(std::map<std::string, FieldMask, std::less<>> members) {
  FieldMask mask;
  mask.keep_all_ = false;
  mask.members_ = std::move(members);
  return mask;
}

const FieldMask* FieldMask::Member(std::string_view name) const {
  if (keep_all_) return this;
  auto it = members_.find(name);
  return it == members_.end() ? nullptr : &it->second;
}

FieldMask FieldMask::Union(const FieldMask& a, const FieldMask& b) {
  if (a.keep_all_ || b.keep_all_) return FieldMask();
  FieldMask out = a;
  for (const auto& [name, mask] : b.members_) {
    auto it = out.members_.find(name);
    if (it == out.members_.end()) {
      out.members_.emplace(name, mask);
    } else {
      it->second = Union(it->second, mask);
    }
  }
  return out;
}

StatusOr<nlohmann::json> DecodeMasked(std::string_view text, const FieldMask& mask) {
  Json doc;
  MaskedBuilder builder(doc, mask);
  bool ok = Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json,
                            /*strict=*/true);
  if (!ok) return InvalidArgumentError("not JSON: " + builder.error());
  return doc;
}

nlohmann::json DecodeJson(std::string_view text, const FieldMask* mask) {
  if (mask == nullptr) return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  auto decoded = DecodeMasked(text, *mask);
  return decoded.ok() ? std::move(decoded).value() : Json(Json::value_t::discarded);
}

}  // namespace ringleader::kube
