// The Status objects the test API server answers with, shaped as kube-apiserver's.

#include "server_impl.h"

namespace ringleader::testapi {

json DetailsFor(const ResourceType& type, const std::string& name, bool kind_is_plural) {
  json d = json::object();
  d["name"] = name;
  if (!type.group.empty()) d["group"] = type.group;
  d["kind"] = kind_is_plural ? type.plural : type.kind;
  return d;
}

ApiError NotFound(const ResourceType& type, const std::string& name) {
  return {404, "NotFound", type.GroupResource() + " \"" + name + "\" not found", DetailsFor(type, name, true), {}};
}

ApiError AlreadyExists(const ResourceType& type, const std::string& name) {
  return {409, "AlreadyExists", type.GroupResource() + " \"" + name + "\" already exists",
          DetailsFor(type, name, true), {}};
}

ApiError ConflictError(const ResourceType& type, const std::string& name, const std::string& why) {
  return {409, "Conflict", "Operation cannot be fulfilled on " + type.GroupResource() + " \"" + name + "\": " + why,
          DetailsFor(type, name, true), {}};
}

ApiError BadRequest(const std::string& message) { return {400, "BadRequest", message, nullptr, {}}; }

ApiError NoSuchResource() {
  return {404, "NotFound", "the server could not find the requested resource", json::object(), {}};
}

ApiError MethodNotAllowed() {
  return {405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nullptr, {}};
}

ApiError InvalidError(const ResourceType& type, const std::string& name, const std::vector<FieldCause>& causes) {
  std::string qualified = type.group.empty() ? type.kind : type.kind + "." + type.group;
  std::string msg = qualified + " \"" + name + "\" is invalid: ";
  std::vector<std::string> parts;
  for (const auto& c : causes) parts.push_back(c.field + ": " + c.message);
  if (parts.size() == 1) {
    msg += parts[0];
  } else {
    msg += "[";
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    msg += "]";
  }
  json details = DetailsFor(type, name, false);
  details["causes"] = json::array();
  for (const auto& c : causes) {
    details["causes"].push_back({{"reason", c.reason}, {"message", c.message}, {"field", c.field}});
  }
  return {422, "Invalid", msg, details, {}};
}

json MakeStatus(int code, const std::string& reason, const std::string& message, const json& details) {
  json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
            {"message", message}, {"reason", reason}};
  if (!details.is_null()) s["details"] = details;
  s["code"] = code;
  return s;
}

}  // namespace ringleader::testapi
