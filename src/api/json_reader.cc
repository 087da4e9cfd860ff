#include "json_reader.h"

#include <cmath>

namespace ringleader::api::internal {

const char* JsonTypeName(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer";
    case nlohmann::json::value_t::number_float: return "number";
    default: return "unknown";
  }
}

JsonObjectReader::JsonObjectReader(const nlohmann::json* object, std::string path,
                                   std::vector<FieldError>* errors)
    : object_(object), path_(std::move(path)), errors_(errors) {
  if (object_ != nullptr && object_->is_null()) object_ = nullptr;  // `field: null` means absent
  if (object_ != nullptr && !object_->is_object()) {
    errors_->push_back({path_, std::string("must be an object, got ") + JsonTypeName(*object_)});
    object_ = nullptr;
  }
}

std::string JsonObjectReader::FieldPath(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void JsonObjectReader::AddError(const std::string& key, const std::string& message) {
  errors_->push_back({FieldPath(key), message});
}

void JsonObjectReader::TypeError(const std::string& key, const char* expected, const nlohmann::json& got) {
  AddError(key, std::string("must be ") + expected + ", got " + JsonTypeName(got));
}

const nlohmann::json* JsonObjectReader::Lookup(const std::string& key) {
  seen_.insert(key);
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  if (it == object_->end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<int64_t> JsonObjectReader::Int(const std::string& key) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      AddError(key, "integer out of range");
      return std::nullopt;
    }
    return v->get<int64_t>();
  }
  if (v->is_number_float()) {
    double d = v->get<double>();
    // JSON has one number type; 4.0 is an acceptable spelling of 4, 4.5 is not.
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    AddError(key, "must be an integer, got " + v->dump());
    return std::nullopt;
  }
  TypeError(key, "an integer", *v);
  return std::nullopt;
}

template <typename T>
std::optional<T> JsonObjectReader::Scalar(const std::string& key, bool (nlohmann::json::*is_type)() const noexcept,
                                          const char* expected) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return std::nullopt;
  if ((v->*is_type)()) return v->get<T>();
  TypeError(key, expected, *v);
  return std::nullopt;
}

std::optional<double> JsonObjectReader::Number(const std::string& key) {
  return Scalar<double>(key, &nlohmann::json::is_number, "a number");
}

std::optional<std::string> JsonObjectReader::String(const std::string& key) {
  return Scalar<std::string>(key, &nlohmann::json::is_string, "a string");
}

std::optional<bool> JsonObjectReader::Bool(const std::string& key) {
  return Scalar<bool>(key, &nlohmann::json::is_boolean, "a boolean");
}

const nlohmann::json* JsonObjectReader::Object(const std::string& key) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return nullptr;
  if (v->is_object()) return v;
  TypeError(key, "an object", *v);
  return nullptr;
}

const nlohmann::json* JsonObjectReader::Array(const std::string& key) {
  const nlohmann::json* v = Lookup(key);
  if (v == nullptr) return nullptr;
  if (v->is_array()) return v;
  TypeError(key, "a list", *v);
  return nullptr;
}

const nlohmann::json* JsonObjectReader::Raw(const std::string& key) { return Lookup(key); }

std::optional<std::map<std::string, std::string>> JsonObjectReader::StringMap(const std::string& key) {
  const nlohmann::json* v = Object(key);
  if (v == nullptr) return std::nullopt;
  std::map<std::string, std::string> out;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string()) {
      errors_->push_back({FieldPath(key) + "." + it.key(),
                          std::string("must be a string, got ") + JsonTypeName(it.value())});
      continue;
    }
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

void JsonObjectReader::RejectUnknownFields() {
  if (object_ == nullptr) return;
  for (auto it = object_->begin(); it != object_->end(); ++it) {
    if (!seen_.count(it.key())) AddError(it.key(), "unknown field");
  }
}

}  // namespace ringleader::api::internal
