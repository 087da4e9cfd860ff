#include "ringleader/api/yaml_loader.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "ringleader/api/limits.h"

namespace ringleader::api {

using nlohmann::json;

namespace {

// YAML 1.2 core-schema resolution of plain scalars (what kubectl's YAML reader does for the
// types that matter here: null, booleans, integers, floats).
json ResolvePlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kOct("0o[0-7]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  errno = 0;
  if (std::regex_match(s, kInt)) {
    long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) return v;
    return std::strtod(s.c_str(), nullptr);  // too large for int64: keep it as a number
  }
  if (std::regex_match(s, kHex)) return std::strtoll(s.c_str() + 2, nullptr, 16);
  if (std::regex_match(s, kOct)) return std::strtoll(s.c_str() + 2, nullptr, 8);
  if (std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
  if (s == ".inf" || s == "+.inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
  return s;
}

// yaml-cpp turns an alias into a second reference to the anchored node, so aliases cost
// nothing until they are expanded here. A few lines of nested aliases ("billion laughs") would
// then expand to gigabytes, and an alias inside its own anchor (`a: &a [*a]`, which yaml-cpp
// accepts) would recurse forever; the converter counts what it produces and how deep it is,
// and stops at limits::kMaxYamlExpandedSize / kMaxYamlDepth. One converter serves all the
// documents of one input, so the budget covers the whole input.
class YamlToJson {
 public:
  // An empty string while every node converted so far fitted the limits.
  const std::string& error() const { return error_; }

  json Convert(const YAML::Node& node, size_t depth = 0) {
    if (!error_.empty()) return nullptr;
    if (depth > limits::kMaxYamlDepth) {
      error_ = "YAML nests deeper than " + std::to_string(limits::kMaxYamlDepth) +
               " levels (an alias inside its own anchor?)";
      return nullptr;
    }
    if (!Charge(node.IsScalar() ? node.Scalar().size() : 0)) return nullptr;
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
      case YAML::NodeType::Scalar: {
        const std::string& tag = node.Tag();
        // "!" marks a quoted (non-plain) scalar; explicit !!str likewise stays a string.
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
        return ResolvePlainScalar(node.Scalar());
      }
      case YAML::NodeType::Sequence: {
        json out = json::array();
        for (const auto& item : node) {
          out.push_back(Convert(item, depth + 1));
          if (!error_.empty()) break;
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& kv : node) {
          std::string key = kv.first.as<std::string>();
          if (!Charge(key.size())) break;
          out[key] = Convert(kv.second, depth + 1);
          if (!error_.empty()) break;
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  // One unit per node plus its scalar bytes: about the size of the document written out
  // without aliases.
  bool Charge(size_t scalar_bytes) {
    expanded_ += 1 + scalar_bytes;
    if (expanded_ <= limits::kMaxYamlExpandedSize) return true;
    error_ = "YAML aliases expand the input beyond " +
             std::to_string(limits::kMaxYamlExpandedSize) + " bytes, twice the " +
             std::to_string(limits::kMaxInputBytes) +
             "-byte input limit (a \"billion laughs\" document?)";
    return false;
  }

  size_t expanded_ = 0;
  std::string error_;
};

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  if (!ResolvePlainScalar(s).is_string()) return true;  // would read back as a number/bool/null
  if (s == ".nan" || s == ".NaN" || s == "yes" || s == "no" || s == "on" || s == "off" ||
      s == "y" || s == "n") {
    return true;  // YAML 1.1 readers take these as booleans
  }
  return false;
}

void Emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (auto it = value.begin(); it != value.end(); ++it) {
        out << YAML::Key;
        if (NeedsQuotes(it.key())) out << YAML::DoubleQuoted;
        out << it.key() << YAML::Value;
        Emit(out, it.value());
      }
      out << YAML::EndMap;
      return;
    case json::value_t::array:
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& item : value) Emit(out, item);
      out << YAML::EndSeq;
      return;
    case json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      // yaml-cpp writes literal blocks with clip chomping ("|"), which adds a final newline
      // on reading back, so only strings that end in one are written that way.
      if (s.find('\n') != std::string::npos && s.back() == '\n') {
        out << YAML::Literal << s;
      } else if (NeedsQuotes(s) || s.find('\n') != std::string::npos) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      return;
    }
    case json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      return;
    case json::value_t::null:
      out << YAML::Null;
      return;
    default:
      out << value.dump();  // numbers: JSON spelling is valid YAML
      return;
  }
}

}  // namespace

StatusOr<std::vector<json>> LoadYamlDocuments(const std::string& text) {
  if (text.size() > limits::kMaxInputBytes) {
    return InvalidArgumentError("input is " + std::to_string(text.size()) +
                                " bytes; the limit is " + std::to_string(limits::kMaxInputBytes) +
                                " bytes (1 MiB)");
  }
  std::vector<json> out;
  try {
    YamlToJson converter;
    for (const YAML::Node& doc : YAML::LoadAll(text)) {
      json j = converter.Convert(doc);
      if (!converter.error().empty()) return InvalidArgumentError(converter.error());
      if (!j.is_null()) out.push_back(std::move(j));
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError("invalid YAML at line " + std::to_string(e.mark.line + 1) +
                                ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return out;
}

StatusOr<std::vector<json>> LoadYamlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open " + path);
  // Read at most one byte past the limit so a huge file is refused without loading all of it.
  std::string text(limits::kMaxInputBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  auto docs = LoadYamlDocuments(text);
  if (!docs.ok()) return Status(docs.status().code(), path + ": " + docs.status().message());
  return docs;
}

std::string ToYaml(const json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  Emit(out, value);
  return std::string(out.c_str()) + "\n";
}

std::string ToYamlDocuments(const std::vector<json>& documents) {
  std::string out;
  for (size_t i = 0; i < documents.size(); ++i) {
    if (i > 0) out += "---\n";
    out += ToYaml(documents[i]);
  }
  return out;
}

}  // namespace ringleader::api
