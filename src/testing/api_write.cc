// Writes: create (generateName, name validation, admission, CRD registration), update and
// patch (merge, JSON and strategic merge patches; optimistic concurrency; the /status
// subresource; generation bumps; the last finalizer's removal completing a deletion).

#include "server_impl.h"

namespace ringleader::testapi {
namespace {

const char kDns1123Message[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const char kStaleObject[] =
    "the object has been modified; please apply your changes to the latest version and try again";

// The object a write stores: /status writes change only status, main writes keep status
// and the metadata the server owns.
json MergeWrite(const ResourceType& type, const std::string& subresource, const json& existing, const json& incoming) {
  json updated;
  if (subresource == "status") {
    updated = existing;
    if (incoming.contains("status")) {
      updated["status"] = incoming["status"];
    } else {
      updated.erase("status");
    }
    return updated;
  }
  updated = incoming;
  if (type.has_status) {
    if (existing.contains("status")) {
      updated["status"] = existing["status"];
    } else {
      updated.erase("status");
    }
  }
  json& meta = updated["metadata"];
  const json& old_meta = existing["metadata"];
  for (const char* keep : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                           "generation", "namespace", "name"}) {
    if (old_meta.contains(keep)) {
      meta[keep] = old_meta[keep];
    } else {
      meta.erase(keep);
    }
  }
  return updated;
}

}  // namespace

ResourceAnswer TestApiServer::Impl::CreateLocked(const ResourceRequest& r) {
  const ResourceType& type = *r.target.type;
  const RequestTarget& t = r.target;
  if (!r.body.is_object()) {
    return ResourceAnswer::Fail(BadRequest("the body of the request must be a JSON object"));
  }
  json obj = r.body;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  json& meta = obj["metadata"];
  if (type.namespaced) {
    std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && body_ns != t.namespace_name) {
      return ResourceAnswer::Fail(
          BadRequest("the namespace of the provided object does not match the namespace sent on the request"));
    }
    meta["namespace"] = t.namespace_name;
  } else {
    meta.erase("namespace");
  }
  obj["apiVersion"] = type.ApiVersion();
  obj["kind"] = type.kind;
  std::vector<FieldCause> causes;
  std::string name = meta.value("name", "");
  if (name.empty() && !meta.value("generateName", "").empty()) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      name = meta["generateName"].get<std::string>() + RandomSuffix();
      if (FindObject(type.Key(), t.namespace_name, name) == nullptr) break;
    }
    meta["name"] = name;
  }
  if (name.empty()) {
    causes.push_back({"FieldValueRequired", "Required value: name or generateName is required", "metadata.name"});
  } else if (!ValidDns1123Subdomain(name)) {
    causes.push_back({"FieldValueInvalid", "Invalid value: \"" + name + "\": " + kDns1123Message, "metadata.name"});
  }
  for (const char* drop : {"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                           "deletionGracePeriodSeconds", "generation", "managedFields", "selfLink"}) {
    meta.erase(drop);
  }
  if (type.custom && type.has_status) obj.erase("status");  // reset on create, as the real server does
  if (auto err = AdmitObject(type, obj, nullptr, name, std::move(causes), r.strict)) {
    return ResourceAnswer::Fail(*err);
  }
  if (FindObject(type.Key(), t.namespace_name, name) != nullptr) {
    return ResourceAnswer::Fail(AlreadyExists(type, name));
  }
  meta["uid"] = NewUid();
  meta["creationTimestamp"] = NowRfc3339();
  if (type.custom || type.plural == "customresourcedefinitions") meta["generation"] = 1;
  if (type.plural == "customresourcedefinitions") RegisterCrdTypeLocked(obj);
  Commit(type, "ADDED", obj, nullptr);
  if (type.plural == "customresourcedefinitions") {
    json established = obj;
    EstablishCrd(established);
    Commit(type, "MODIFIED", established, &obj);
  }
  return ResourceAnswer::Ok(201, obj);
}

void TestApiServer::Impl::RegisterCrdTypeLocked(json& crd) {
  ResourceType crd_type;
  CrdToType(crd, &crd_type);
  // Created first without conditions, then Established by a second (status) write, as
  // the real apiextensions controllers do: clients that wait for Established see it change.
  EstablishCrd(crd);
  crd["status"] = {{"conditions", nullptr},
                   {"acceptedNames", {{"plural", ""}, {"kind", ""}}},
                   {"storedVersions", {crd_type.version}}};
  bool reused = false;
  for (auto& existing : types_) {
    if (!existing.active && existing.custom && existing.Key() == crd_type.Key() &&
        existing.version == crd_type.version) {
      existing = crd_type;
      reused = true;
      break;
    }
  }
  if (!reused) types_.push_back(crd_type);
  ++openapi_generation_;
}

std::optional<ApiError> TestApiServer::Impl::IncomingObject(const ResourceRequest& r, const json& existing,
                                                            json* incoming) const {
  const ResourceType& type = *r.target.type;
  if (r.target.verb == "update") {
    *incoming = r.body;
    std::string body_name = incoming->contains("metadata") ? (*incoming)["metadata"].value("name", "") : "";
    if (!body_name.empty() && body_name != r.target.name) {
      return BadRequest("the name of the object (" + body_name + ") does not match the name on the URL (" +
                        r.target.name + ")");
    }
    return std::nullopt;
  }
  std::string ct = r.http.Header("content-type");
  ct = ct.substr(0, ct.find(';'));
  try {
    if (ct == "application/merge-patch+json") {
      *incoming = existing;
      incoming->merge_patch(r.body);
    } else if (ct == "application/json-patch+json") {
      *incoming = existing.patch(r.body);
    } else if (ct == "application/strategic-merge-patch+json" && !type.custom) {
      *incoming = StrategicMerge(existing, r.body, "");
    } else {
      return ApiError{415, "UnsupportedMediaType",
                      "the body of the request was in an unknown format - accepted media types include: "
                      "application/json-patch+json, application/merge-patch+json" +
                          std::string(type.custom ? "" : ", application/strategic-merge-patch+json"),
                      nullptr, {}};
    }
  } catch (const json::exception& e) {
    return ApiError{422, "Invalid", std::string("the server rejected our request due to an error in our request: ") + e.what(),
                    nullptr, {}};
  }
  if (!incoming->is_object()) return BadRequest("patch produced a non-object");
  return std::nullopt;
}

std::optional<ApiError> TestApiServer::Impl::StaleWriteLocked(const RequestTarget& t, const json& existing,
                                                              const json& incoming) {
  const ResourceType& type = *t.type;
  std::string want_rv = incoming["metadata"].value("resourceVersion", "");
  if (!want_rv.empty() && want_rv != existing["metadata"].value("resourceVersion", "")) {
    return ConflictError(type, t.name, kStaleObject);
  }
  for (auto it = conflicts_.begin(); it != conflicts_.end(); ++it) {
    bool sub_ok = it->subresource.empty() || (it->subresource == "main" && t.subresource.empty()) ||
                  it->subresource == t.subresource;
    if (sub_ok && (it->resource.empty() || it->resource == type.plural)) {
      if (--it->count <= 0) conflicts_.erase(it);
      return ConflictError(type, t.name, kStaleObject);
    }
  }
  return std::nullopt;
}

ResourceAnswer TestApiServer::Impl::UpdateLocked(const ResourceRequest& r) {
  const ResourceType& type = *r.target.type;
  const RequestTarget& t = r.target;
  json* stored = FindObject(type.Key(), t.namespace_name, t.name);
  if (stored == nullptr) {
    return ResourceAnswer::Fail(NotFound(type, t.name));
  }
  const json existing = *stored;
  json incoming;
  if (auto bad = IncomingObject(r, existing, &incoming)) return ResourceAnswer::Fail(*bad);
  if (!incoming.contains("metadata") || !incoming["metadata"].is_object()) incoming["metadata"] = json::object();
  if (auto stale = StaleWriteLocked(t, existing, incoming)) return ResourceAnswer::Fail(*stale);
  json updated = MergeWrite(type, t.subresource, existing, incoming);
  updated["apiVersion"] = type.ApiVersion();
  updated["kind"] = type.kind;
  updated["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"];
  if (auto err = AdmitObject(type, updated, &existing, t.name, {}, r.strict)) {
    return ResourceAnswer::Fail(*err);
  }
  if (existing["metadata"].contains("generation")) {
    bool ignore_status = type.has_status || type.plural == "customresourcedefinitions";
    if (SpecPart(existing, ignore_status) != SpecPart(updated, ignore_status)) {
      updated["metadata"]["generation"] = existing["metadata"]["generation"].get<int64_t>() + 1;
    }
  }
  if (updated == existing) {
    return ResourceAnswer::Ok(200, existing);
  }
  if (type.plural == "customresourcedefinitions") RefreshCrdTypeLocked(updated, t.name);
  Commit(type, "MODIFIED", updated, &existing);
  // Removing the last finalizer of an object being deleted deletes it.
  if (HasDeletionTimestamp(updated) && Finalizers(updated).empty()) {
    json* now_stored = FindObject(type.Key(), t.namespace_name, t.name);
    if (now_stored != nullptr) DeleteObjectLocked(type, *now_stored, "Background");
    RunGarbageCollection();
  }
  return ResourceAnswer::Ok(200, updated);
}

void TestApiServer::Impl::RefreshCrdTypeLocked(const json& crd, const std::string& crd_name) {
  ResourceType crd_type;
  CrdToType(crd, &crd_type);
  for (auto& existing_type : types_) {
    if (existing_type.active && existing_type.custom && existing_type.crd_name == crd_name) {
      existing_type.printer_columns = crd_type.printer_columns;
      existing_type.schema = crd_type.schema;
      existing_type.short_names = crd_type.short_names;
      existing_type.categories = crd_type.categories;
      existing_type.has_status = crd_type.has_status;
    }
  }
  ++openapi_generation_;
}

}  // namespace ringleader::testapi
