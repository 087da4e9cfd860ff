// Readers of request paths and object metadata shared by the test API server's handlers.

#include "server_impl.h"

namespace ringleader::testapi {


std::string ObjKey(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string StrField(const json& obj, const char* a, const char* b) {
  auto ia = obj.find(a);
  if (ia == obj.end() || !ia->is_object()) return "";
  auto ib = ia->find(b);
  return ib != ia->end() && ib->is_string() ? ib->get<std::string>() : "";
}

std::string Name(const json& obj) { return StrField(obj, "metadata", "name"); }
std::string Namespace(const json& obj) { return StrField(obj, "metadata", "namespace"); }
std::string Uid(const json& obj) { return StrField(obj, "metadata", "uid"); }

bool HasDeletionTimestamp(const json& obj) {
  auto m = obj.find("metadata");
  return m != obj.end() && m->contains("deletionTimestamp") && !(*m)["deletionTimestamp"].is_null();
}

std::vector<std::string> Finalizers(const json& obj) {
  std::vector<std::string> out;
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->contains("finalizers") || !(*m)["finalizers"].is_array()) return out;
  for (const auto& f : (*m)["finalizers"]) {
    if (f.is_string()) out.push_back(f.get<std::string>());
  }
  return out;
}

bool IsTrue(const std::string& v) { return v == "true" || v == "1" || v == "True"; }

std::string HexEncode(const std::string& in) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : in) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string HexDecode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i + 1 < in.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(in.substr(i, 2), nullptr, 16)));
  }
  return out;
}

bool ValidDns1123Subdomain(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (alnum(c) || c == '-') continue;
    if (c == '.' && alnum(name[i - 1]) && i + 1 < name.size() && alnum(name[i + 1])) continue;
    return false;
  }
  return true;
}

json SpecPart(const json& obj, bool ignore_status) {
  json copy = obj;
  copy.erase("metadata");
  if (ignore_status) copy.erase("status");
  return copy;
}

}  // namespace ringleader::testapi
