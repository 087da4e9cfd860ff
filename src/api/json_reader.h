#pragma once
// Reads one JSON object field by field, recording type errors with their path and, at the
// end, every field nobody asked for (so a typo such as `backofLimit` is reported, not ignored).

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ringleader/api/field_error.h"

namespace ringleader::api::internal {

class JsonObjectReader {
 public:
  // `object` may be null (field absent): every getter then returns nullopt.
  JsonObjectReader(const nlohmann::json* object, std::string path, std::vector<FieldError>* errors);

  const std::string& path() const { return path_; }
  std::string FieldPath(const std::string& key) const;
  bool present() const { return object_ != nullptr; }

  std::optional<int64_t> Int(const std::string& key);
  std::optional<double> Number(const std::string& key);
  std::optional<std::string> String(const std::string& key);
  std::optional<bool> Bool(const std::string& key);
  const nlohmann::json* Object(const std::string& key);
  const nlohmann::json* Array(const std::string& key);
  // Any JSON value, unchecked (for parts whose shape belongs to someone else).
  const nlohmann::json* Raw(const std::string& key);
  std::optional<std::map<std::string, std::string>> StringMap(const std::string& key);

  template <typename Enum, typename Parse>
  std::optional<Enum> EnumValue(const std::string& key, const std::vector<std::string>& names, Parse parse) {
    auto s = String(key);
    if (!s) return std::nullopt;
    auto v = parse(*s);
    if (!v) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      AddError(key, "unsupported value \"" + *s + "\": must be one of " + list);
    }
    return v;
  }

  // Reports every key of the object that no getter has asked for.
  void RejectUnknownFields();
  void AddError(const std::string& key, const std::string& message);

 private:
  const nlohmann::json* Lookup(const std::string& key);
  void TypeError(const std::string& key, const char* expected, const nlohmann::json& got);
  // The value at `key` when `is_type` holds of it; a type error naming `expected` otherwise.
  template <typename T>
  std::optional<T> Scalar(const std::string& key, bool (nlohmann::json::*is_type)() const noexcept,
                          const char* expected);

  const nlohmann::json* object_;
  std::string path_;
  std::vector<FieldError>* errors_;
  std::set<std::string> seen_;
};

const char* JsonTypeName(const nlohmann::json& value);

}  // namespace ringleader::api::internal
