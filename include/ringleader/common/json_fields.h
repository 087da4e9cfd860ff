#pragma once
// Type-checked reads of JSON from outside (the API server, a user's file). nlohmann's
// value()/get<>() throw type_error when a key exists with another type (`{"kind":1}`), and
// value(key, default) returns a copy (a whole pod spec, on a hot path); these return a
// reference or the fallback instead. Header-only, so ringleader_common itself stays free of
// nlohmann-json for the runtime-only build.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ringleader::json_fields {

using Json = nlohmann::json;

// object[key], or nullptr when `object` is not an object or has no such key.
inline const Json* Field(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

inline const std::string& EmptyString() {
  static const std::string kEmpty;
  return kEmpty;
}

// object[key] when it is a string, else "": a reference into `object` (no copy of a string
// read in a loop over every cached object).
inline const std::string& StringRef(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  return field && field->is_string() ? field->get_ref<const std::string&>() : EmptyString();
}

// The same, as a copy.
inline std::string StringField(const Json& object, const char* key) { return StringRef(object, key); }

// metadata.<key> of a Kubernetes object when it is a string, else "" (by reference).
inline const std::string& MetadataString(const Json& object, const char* key) {
  const Json* meta = Field(object, "metadata");
  return meta ? StringRef(*meta, key) : EmptyString();
}

// object[key] when it is a boolean, else `fallback`.
inline bool BoolField(const Json& object, const char* key, bool fallback = false) {
  const Json* field = Field(object, key);
  return field && field->is_boolean() ? field->get<bool>() : fallback;
}

// object[key] when it is an integer that fits in int64 (floats are not integers), else nullopt.
inline std::optional<int64_t> IntField(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  if (!field) return std::nullopt;
  if (field->is_number_unsigned()) {
    uint64_t value = field->get<uint64_t>();
    if (value > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(value);
  }
  if (field->is_number_integer()) return field->get<int64_t>();
  return std::nullopt;
}

// object[key] when it is an object (or an array, for ArrayField), else nullptr.
inline const Json* ObjectField(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  return field && field->is_object() ? field : nullptr;
}
inline const Json* ArrayField(const Json& object, const char* key) {
  const Json* field = Field(object, key);
  return field && field->is_array() ? field : nullptr;
}

// The same, as a reference to an empty object / array when absent: for iterating.
inline const Json& ObjectOrEmpty(const Json& object, const char* key) {
  static const Json kEmpty = Json::object();
  const Json* field = ObjectField(object, key);
  return field ? *field : kEmpty;
}
inline const Json& ArrayOrEmpty(const Json& object, const char* key) {
  static const Json kEmpty = Json::array();
  const Json* field = ArrayField(object, key);
  return field ? *field : kEmpty;
}

}  // namespace ringleader::json_fields
