#include "ringleader/testing/schema.h"

#include <nlohmann/json.hpp>
#include <regex>

namespace ringleader::testapi {
namespace {

using nlohmann::json;

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

bool Flag(const json& schema, const char* name) {
  auto it = schema.find(name);
  return it != schema.end() && it->is_boolean() && it->get<bool>();
}

std::string TypeOf(const json& schema) {
  auto it = schema.find("type");
  return it != schema.end() && it->is_string() ? it->get<std::string>() : "";
}

// How the real server prints a value inside "Invalid value: ...".
std::string Show(const json& v) { return v.dump(); }

void CheckNode(const json& schema, const std::string& path, bool needs_type, std::vector<FieldCause>* causes) {
  if (!schema.is_object()) return;
  bool exempt = Flag(schema, "x-kubernetes-preserve-unknown-fields") || Flag(schema, "x-kubernetes-int-or-string");
  if (needs_type && TypeOf(schema).empty() && !exempt) {
    causes->push_back({"FieldValueRequired", "Required value: must not be empty for specified object fields",
                       path + ".type"});
  }
  if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) {
    for (auto p = it->begin(); p != it->end(); ++p) {
      CheckNode(p.value(), path + ".properties[" + p.key() + "]", true, causes);
    }
  }
  if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
    CheckNode(*it, path + ".items", true, causes);
  }
  if (auto it = schema.find("additionalProperties"); it != schema.end() && it->is_object()) {
    CheckNode(*it, path + ".additionalProperties", true, causes);
  }
}

bool TypeMatches(const std::string& type, const json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  return true;
}

std::string JsonTypeName(const json& v) {
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "boolean";
  return "null";
}

void Validate(const json& v, const json& schema, const std::string& path, std::vector<FieldCause>* causes);

// null and the declared type; false when nothing more is to be checked (a null, allowed or not,
// or a value of the wrong type).
bool CheckType(const json& v, const json& schema, const std::string& path, const std::string& shown_path,
               std::vector<FieldCause>* causes) {
  if (v.is_null()) {
    if (Flag(schema, "nullable") || TypeOf(schema).empty()) return false;
    causes->push_back({"FieldValueTypeInvalid",
                       "Invalid value: \"null\": " + shown_path + " in body must be of type " + TypeOf(schema) +
                           ": \"null\"",
                       path});
    return false;
  }
  if (Flag(schema, "x-kubernetes-int-or-string")) {
    if (!v.is_number_integer() && !v.is_string()) {
      causes->push_back({"FieldValueTypeInvalid",
                         "Invalid value: " + Show(v) + ": " + shown_path + " in body must be of type integer-or-string",
                         path});
      return false;
    }
  } else {
    std::string type = TypeOf(schema);
    if (!type.empty() && !TypeMatches(type, v)) {
      causes->push_back({"FieldValueTypeInvalid",
                         "Invalid value: \"" + JsonTypeName(v) + "\": " + shown_path + " in body must be of type " +
                             type + ": \"" + JsonTypeName(v) + "\"",
                         path});
      return false;
    }
  }
  return true;
}

// enum: the value is one of those listed.
void CheckEnum(const json& v, const json& schema, const std::string& path, std::vector<FieldCause>* causes) {
  if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
    bool found = false;
    std::string supported;
    for (const auto& e : *it) {
      if (e == v) found = true;
      supported += (supported.empty() ? "" : ", ") + e.dump();
    }
    if (!found) {
      causes->push_back({"FieldValueNotSupported", "Unsupported value: " + Show(v) + ": supported values: " + supported,
                         path});
    }
  }
}

// minimum/maximum (exclusive or not) of a number.
void CheckNumberBounds(const json& v, const json& schema, const std::string& path, const std::string& shown_path,
                       std::vector<FieldCause>* causes) {
  double d = v.get<double>();
  if (auto it = schema.find("minimum"); it != schema.end() && it->is_number()) {
    bool exclusive = Flag(schema, "exclusiveMinimum");
    double m = it->get<double>();
    if (exclusive ? d <= m : d < m) {
      causes->push_back({"FieldValueInvalid",
                         "Invalid value: " + Show(v) + ": " + shown_path + " in body should be greater than " +
                             (exclusive ? "" : "or equal to ") + it->dump(),
                         path});
    }
  }
  if (auto it = schema.find("maximum"); it != schema.end() && it->is_number()) {
    bool exclusive = Flag(schema, "exclusiveMaximum");
    double m = it->get<double>();
    if (exclusive ? d >= m : d > m) {
      causes->push_back({"FieldValueInvalid",
                         "Invalid value: " + Show(v) + ": " + shown_path + " in body should be less than " +
                             (exclusive ? "" : "or equal to ") + it->dump(),
                         path});
    }
  }
}

// minLength, maxLength and pattern of a string.
void CheckStringConstraints(const json& v, const json& schema, const std::string& path, const std::string& shown_path,
                            std::vector<FieldCause>* causes) {
  const std::string& s = v.get_ref<const std::string&>();
  if (auto it = schema.find("minLength"); it != schema.end() && it->is_number_integer() &&
                                          static_cast<int64_t>(s.size()) < it->get<int64_t>()) {
    causes->push_back({"FieldValueInvalid",
                       "Invalid value: " + Show(v) + ": " + shown_path + " in body should be at least " + it->dump() +
                           " chars long",
                       path});
  }
  if (auto it = schema.find("maxLength"); it != schema.end() && it->is_number_integer() &&
                                          static_cast<int64_t>(s.size()) > it->get<int64_t>()) {
    causes->push_back({"FieldValueTooLong", "Too long: may not be more than " + it->dump() + " bytes", path});
  }
  if (auto it = schema.find("pattern"); it != schema.end() && it->is_string()) {
    try {
      std::regex re(it->get<std::string>(), std::regex::ECMAScript);
      if (!std::regex_search(s, re)) {
        causes->push_back({"FieldValueInvalid",
                           "Invalid value: " + Show(v) + ": " + shown_path + " in body should match '" +
                               it->get<std::string>() + "'",
                           path});
      }
    } catch (const std::regex_error&) {
      // An unsupported pattern is not the user's object's fault: skip it.
    }
  }
}

// minItems, maxItems, and each item against the items schema.
void CheckArrayItems(const json& v, const json& schema, const std::string& path, const std::string& shown_path,
                     std::vector<FieldCause>* causes) {
  if (auto it = schema.find("minItems"); it != schema.end() && it->is_number_integer() &&
                                         static_cast<int64_t>(v.size()) < it->get<int64_t>()) {
    causes->push_back({"FieldValueInvalid",
                       "Invalid value: " + std::to_string(v.size()) + ": " + shown_path +
                           " in body should have at least " + it->dump() + " items",
                       path});
  }
  if (auto it = schema.find("maxItems"); it != schema.end() && it->is_number_integer() &&
                                         static_cast<int64_t>(v.size()) > it->get<int64_t>()) {
    causes->push_back({"FieldValueTooMany",
                       "Too many: " + std::to_string(v.size()) + ": must have at most " + it->dump() + " items",
                       path});
  }
  if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
    for (size_t i = 0; i < v.size(); ++i) {
      Validate(v[i], *it, path + "[" + std::to_string(i) + "]", causes);
    }
  }
}

// required fields, and each field against its property (or additionalProperties) schema.
void CheckObjectFields(const json& v, const json& schema, const std::string& path, std::vector<FieldCause>* causes) {
  if (auto it = schema.find("required"); it != schema.end() && it->is_array()) {
    for (const auto& r : *it) {
      if (r.is_string() && !v.contains(r.get<std::string>())) {
        causes->push_back({"FieldValueRequired", "Required value", Join(path, r.get<std::string>())});
      }
    }
  }
  const json* props = nullptr;
  if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) props = &*it;
  for (auto f = v.begin(); f != v.end(); ++f) {
    if (props != nullptr) {
      auto p = props->find(f.key());
      if (p != props->end()) {
        Validate(f.value(), *p, Join(path, f.key()), causes);
        continue;
      }
    }
    if (auto ap = schema.find("additionalProperties"); ap != schema.end() && ap->is_object()) {
      Validate(f.value(), *ap, Join(path, f.key()), causes);
    }
  }
}

void Validate(const json& v, const json& schema, const std::string& path, std::vector<FieldCause>* causes) {
  if (!schema.is_object()) return;
  const std::string shown_path = path.empty() ? "body" : path;
  if (!CheckType(v, schema, path, shown_path, causes)) return;
  CheckEnum(v, schema, path, causes);
  if (v.is_number()) CheckNumberBounds(v, schema, path, shown_path, causes);
  if (v.is_string()) CheckStringConstraints(v, schema, path, shown_path, causes);
  if (v.is_array()) CheckArrayItems(v, schema, path, shown_path, causes);
  if (v.is_object()) CheckObjectFields(v, schema, path, causes);
}

}  // namespace

std::vector<FieldCause> CheckStructuralSchema(const json& schema, const std::string& path) {
  std::vector<FieldCause> causes;
  if (!schema.is_object()) {
    causes.push_back({"FieldValueRequired", "Required value: schemas are required", path});
    return causes;
  }
  if (TypeOf(schema) != "object") {
    causes.push_back({"FieldValueInvalid", "Invalid value: \"" + TypeOf(schema) + "\": must be object at the root",
                      path + ".type"});
  }
  CheckNode(schema, path, false, &causes);
  return causes;
}

namespace {

void Prune(json& value, const json& schema, bool is_root, const std::string& path, std::vector<std::string>* pruned) {
  if (!schema.is_object()) return;
  if (value.is_object()) {
    bool preserve = Flag(schema, "x-kubernetes-preserve-unknown-fields");
    const json* props = nullptr;
    if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) props = &*it;
    const json* additional = nullptr;
    bool additional_any = false;
    if (auto it = schema.find("additionalProperties"); it != schema.end()) {
      if (it->is_object()) additional = &*it;
      if (it->is_boolean() && it->get<bool>()) additional_any = true;
    }
    for (auto f = value.begin(); f != value.end();) {
      const std::string& key = f.key();
      if (is_root && (key == "apiVersion" || key == "kind" || key == "metadata")) {
        ++f;
        continue;
      }
      const json* child = nullptr;
      if (props != nullptr) {
        auto p = props->find(key);
        if (p != props->end()) child = &*p;
      }
      if (child == nullptr && additional != nullptr) child = additional;
      if (child != nullptr) {
        // A null in a field that is not nullable is dropped, as the real server does.
        if (f.value().is_null() && !Flag(*child, "nullable")) {
          f = value.erase(f);
          continue;
        }
        Prune(f.value(), *child, false, Join(path, key), pruned);
        ++f;
      } else if (preserve || additional_any) {
        ++f;
      } else {
        pruned->push_back(Join(path, key));
        f = value.erase(f);
      }
    }
  } else if (value.is_array()) {
    if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
      for (size_t i = 0; i < value.size(); ++i) {
        Prune(value[i], *it, false, path + "[" + std::to_string(i) + "]", pruned);
      }
    }
  }
}

}  // namespace

std::vector<std::string> PruneUnknownFields(json& value, const json& schema, bool is_root) {
  std::vector<std::string> pruned;
  Prune(value, schema, is_root, "", &pruned);
  return pruned;
}

void ApplyDefaults(json& value, const json& schema) {
  if (!schema.is_object()) return;
  if (value.is_object()) {
    if (auto it = schema.find("properties"); it != schema.end() && it->is_object()) {
      for (auto p = it->begin(); p != it->end(); ++p) {
        if (!value.contains(p.key()) && p.value().is_object() && p.value().contains("default")) {
          value[p.key()] = p.value()["default"];
        }
        if (value.contains(p.key())) ApplyDefaults(value[p.key()], p.value());
      }
    }
    if (auto ap = schema.find("additionalProperties"); ap != schema.end() && ap->is_object()) {
      const json* props = schema.contains("properties") ? &schema["properties"] : nullptr;
      for (auto f = value.begin(); f != value.end(); ++f) {
        if (props == nullptr || !props->contains(f.key())) ApplyDefaults(f.value(), *ap);
      }
    }
  } else if (value.is_array()) {
    if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
      for (auto& item : value) ApplyDefaults(item, *it);
    }
  }
}

std::vector<FieldCause> ValidateAgainstSchema(const json& value, const json& schema, const std::string& path) {
  std::vector<FieldCause> causes;
  if (path.empty() && value.is_object() && schema.is_object()) {
    // apiVersion/kind/metadata are validated by the server itself, not by the CRD schema.
    json body = value;
    body.erase("apiVersion");
    body.erase("kind");
    body.erase("metadata");
    json root_schema = schema;
    if (root_schema.contains("properties")) {
      root_schema["properties"].erase("apiVersion");
      root_schema["properties"].erase("kind");
      root_schema["properties"].erase("metadata");
    }
    Validate(body, root_schema, path, &causes);
    return causes;
  }
  Validate(value, schema, path, &causes);
  return causes;
}

}  // namespace ringleader::testapi
