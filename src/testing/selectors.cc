#include "ringleader/testing/selectors.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "ringleader/common/split.h"

namespace ringleader::testapi {
namespace {

using nlohmann::json;

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTopLevel(const std::string& text) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  parts.push_back(cur);
  return parts;
}

bool ValidLabelKey(const std::string& key) {
  if (key.empty() || key.size() > 316) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) {
      return false;
    }
  }
  return true;
}

Status Invalid(const std::string& text, const std::string& why) {
  return InvalidArgumentError("unable to parse requirement: " + why + " in selector \"" + text + "\"");
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string part = Trim(raw);
    if (part.empty()) return Invalid(text, "empty requirement");
    Requirement req;
    size_t pos;
    if (part[0] == '!') {
      req.key = Trim(part.substr(1));
      req.op = Op::kDoesNotExist;
    } else if ((pos = part.find("!=")) != std::string::npos) {
      req.key = Trim(part.substr(0, pos));
      req.op = Op::kNotEquals;
      req.values.push_back(Trim(part.substr(pos + 2)));
    } else if ((pos = part.find("==")) != std::string::npos) {
      req.key = Trim(part.substr(0, pos));
      req.op = Op::kEquals;
      req.values.push_back(Trim(part.substr(pos + 2)));
    } else if ((pos = part.find('=')) != std::string::npos) {
      req.key = Trim(part.substr(0, pos));
      req.op = Op::kEquals;
      req.values.push_back(Trim(part.substr(pos + 1)));
    } else if (part.find('(') != std::string::npos) {
      size_t open = part.find('(');
      size_t close = part.rfind(')');
      if (close == std::string::npos || close < open || Trim(part.substr(close + 1)) != "") {
        return Invalid(text, "unbalanced parenthesis");
      }
      std::string head = Trim(part.substr(0, open));
      size_t sp = head.find_last_of(" \t");
      if (sp == std::string::npos) return Invalid(text, "missing operator");
      std::string op = Trim(head.substr(sp + 1));
      req.key = Trim(head.substr(0, sp));
      if (op == "in") {
        req.op = Op::kIn;
      } else if (op == "notin") {
        req.op = Op::kNotIn;
      } else {
        return Invalid(text, "unknown operator '" + op + "'");
      }
      std::string inner = part.substr(open + 1, close - open - 1);
      for (const std::string& value : Split(inner, ',')) {
        if (std::string v = Trim(value); !v.empty()) req.values.push_back(v);
      }
      if (req.values.empty()) return Invalid(text, "'" + op + "' needs at least one value");
    } else {
      req.key = part;
      req.op = Op::kExists;
    }
    if (!ValidLabelKey(req.key)) return Invalid(text, "invalid label key \"" + req.key + "\"");
    sel.requirements_.push_back(std::move(req));
  }
  return sel;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const Requirement& req : requirements_) {
    auto it = labels.find(req.key);
    bool has = it != labels.end();
    auto in_values = [&] {
      for (const auto& v : req.values) {
        if (has && it->second == v) return true;
      }
      return false;
    };
    switch (req.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in_values()) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kDoesNotExist:
        if (has) return false;
        break;
    }
  }
  return true;
}

bool LabelSelector::MatchesJson(const json& labels) const {
  if (requirements_.empty()) return true;
  std::map<std::string, std::string> flat;
  if (labels.is_object()) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      if (it.value().is_string()) flat[it.key()] = it.value().get<std::string>();
    }
  }
  return Matches(flat);
}

StatusOr<FieldSelector> FieldSelector::Parse(const std::string& text) {
  FieldSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string part = Trim(raw);
    Requirement req;
    size_t pos;
    if ((pos = part.find("!=")) != std::string::npos) {
      req.path = Trim(part.substr(0, pos));
      req.negate = true;
      req.value = Trim(part.substr(pos + 2));
    } else if ((pos = part.find("==")) != std::string::npos) {
      req.path = Trim(part.substr(0, pos));
      req.negate = false;
      req.value = Trim(part.substr(pos + 2));
    } else if ((pos = part.find('=')) != std::string::npos) {
      req.path = Trim(part.substr(0, pos));
      req.negate = false;
      req.value = Trim(part.substr(pos + 1));
    } else {
      return InvalidArgumentError("invalid field selector: '" + part + "': expected an operator");
    }
    if (req.path.empty()) return InvalidArgumentError("invalid field selector: empty field in '" + part + "'");
    sel.requirements_.push_back(std::move(req));
  }
  return sel;
}

bool FieldSelector::Matches(const json& object) const {
  for (const Requirement& req : requirements_) {
    const json* cur = &object;
    for (const std::string& key : Split(req.path, '.')) {
      if (!cur->is_object() || !cur->contains(key)) {
        cur = nullptr;
        break;
      }
      cur = &(*cur)[key];
    }
    std::string actual;
    if (cur != nullptr) {
      if (cur->is_string()) {
        actual = cur->get<std::string>();
      } else if (!cur->is_null()) {
        actual = cur->dump();
      }
    }
    if ((actual == req.value) == req.negate) return false;
  }
  return true;
}

std::string FieldSelector::PinnedName() const {
  for (const Requirement& req : requirements_) {
    if (req.path == "metadata.name" && !req.negate) return req.value;
  }
  return "";
}

}  // namespace ringleader::testapi
