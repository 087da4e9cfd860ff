// Built-in kinds: their registry entries, CRD handling, defaulting and validation of the
// fields Ringleader relies on, and a strategic-merge-patch approximation.

#include <algorithm>
#include <set>

#include "server_impl.h"

namespace ringleader::testapi {
namespace {

ResourceType Builtin(const std::string& group, const std::string& plural, const std::string& singular,
                     const std::string& kind, bool namespaced, std::vector<std::string> short_names,
                     bool has_status, std::vector<std::string> categories = {}) {
  ResourceType t;
  t.group = group;
  t.version = "v1";
  t.plural = plural;
  t.singular = singular;
  t.kind = kind;
  t.list_kind = kind + "List";
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.has_status = has_status;
  t.categories = std::move(categories);
  return t;
}

}  // namespace

void TestApiServer::Impl::RegisterBuiltinTypes() {
  types_.push_back(Builtin("", "namespaces", "namespace", "Namespace", false, {"ns"}, true));
  types_.push_back(Builtin("", "pods", "pod", "Pod", true, {"po"}, true, {"all"}));
  types_.push_back(Builtin("", "services", "service", "Service", true, {"svc"}, true, {"all"}));
  types_.push_back(Builtin("", "events", "event", "Event", true, {"ev"}, false));
  types_.push_back(Builtin("", "nodes", "node", "Node", false, {"no"}, true));
  types_.push_back(Builtin("", "configmaps", "configmap", "ConfigMap", true, {"cm"}, false));
  types_.push_back(Builtin("", "secrets", "secret", "Secret", true, {}, false));
  types_.push_back(Builtin("", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, false));
  types_.push_back(Builtin("coordination.k8s.io", "leases", "lease", "Lease", true, {}, false));
  types_.push_back(Builtin("apiextensions.k8s.io", "customresourcedefinitions", "customresourcedefinition",
                           "CustomResourceDefinition", false, {"crd", "crds"}, true, {"api-extensions"}));
  // Stored as given (no RBAC is enforced, no Deployment controller runs), so that
  // `kubectl apply -k deploy/` and `kubectl delete -k deploy/`, the README's install and
  // uninstall, can run against this server.
  types_.push_back(Builtin("rbac.authorization.k8s.io", "clusterroles", "clusterrole", "ClusterRole", false, {}, false));
  types_.push_back(Builtin("rbac.authorization.k8s.io", "clusterrolebindings", "clusterrolebinding",
                           "ClusterRoleBinding", false, {}, false));
  types_.push_back(Builtin("rbac.authorization.k8s.io", "roles", "role", "Role", true, {}, false));
  types_.push_back(Builtin("rbac.authorization.k8s.io", "rolebindings", "rolebinding", "RoleBinding", true, {}, false));
  types_.push_back(Builtin("apps", "deployments", "deployment", "Deployment", true, {"deploy"}, true, {"all"}));
  // Stored as given: Kueue integrations read a PriorityClass's value for a Workload's priority.
  types_.push_back(
      Builtin("scheduling.k8s.io", "priorityclasses", "priorityclass", "PriorityClass", false, {"pc"}, false));
}

std::optional<ApiError> TestApiServer::Impl::CrdToType(const json& crd, ResourceType* type) const {
  static const ResourceType kCrdType = Builtin("apiextensions.k8s.io", "customresourcedefinitions",
                                               "customresourcedefinition", "CustomResourceDefinition", false, {}, true);
  std::string name = crd.contains("metadata") ? crd["metadata"].value("name", "") : "";
  std::vector<FieldCause> causes;
  const json spec = crd.value("spec", json::object());
  const json names = spec.value("names", json::object());
  type->group = spec.value("group", "");
  type->plural = names.value("plural", "");
  type->kind = names.value("kind", "");
  type->singular = names.value("singular", "");
  if (type->singular.empty()) {
    type->singular = type->kind;
    std::transform(type->singular.begin(), type->singular.end(), type->singular.begin(),
                   [](unsigned char c) { return std::tolower(c); });
  }
  type->list_kind = names.value("listKind", type->kind + "List");
  type->short_names = names.value("shortNames", std::vector<std::string>{});
  type->categories = names.value("categories", std::vector<std::string>{});
  std::string scope = spec.value("scope", "");
  type->namespaced = scope == "Namespaced";
  type->custom = true;
  type->crd_name = name;
  if (type->group.empty()) causes.push_back({"FieldValueRequired", "Required value", "spec.group"});
  if (type->plural.empty()) causes.push_back({"FieldValueRequired", "Required value", "spec.names.plural"});
  if (type->kind.empty()) causes.push_back({"FieldValueRequired", "Required value", "spec.names.kind"});
  if (scope != "Namespaced" && scope != "Cluster") {
    causes.push_back({"FieldValueNotSupported",
                      "Unsupported value: \"" + scope + "\": supported values: \"Cluster\", \"Namespaced\"", "spec.scope"});
  }
  if (!type->plural.empty() && !type->group.empty() && name != type->plural + "." + type->group) {
    causes.push_back({"FieldValueInvalid", "Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group",
                      "metadata.name"});
  }
  const json versions = spec.value("versions", json::array());
  const json* chosen = nullptr;
  for (const auto& v : versions) {
    if (v.value("storage", false)) chosen = &v;
  }
  if (chosen == nullptr) {
    for (const auto& v : versions) {
      if (v.value("served", false)) {
        chosen = &v;
        break;
      }
    }
  }
  if (chosen == nullptr) {
    causes.push_back({"FieldValueInvalid", "Invalid value: must have exactly one version marked as storage version",
                      "spec.versions"});
  } else {
    type->version = chosen->value("name", "");
    if (chosen->contains("schema") && (*chosen)["schema"].contains("openAPIV3Schema")) {
      type->schema = (*chosen)["schema"]["openAPIV3Schema"];
      auto more = CheckStructuralSchema(type->schema, "spec.validation.openAPIV3Schema");
      causes.insert(causes.end(), more.begin(), more.end());
    } else {
      causes.push_back({"FieldValueRequired", "Required value: schemas are required",
                        "spec.versions[0].schema.openAPIV3Schema"});
    }
    type->printer_columns = chosen->value("additionalPrinterColumns", json::array());
    type->has_status = chosen->contains("subresources") && (*chosen)["subresources"].contains("status");
  }
  if (!causes.empty()) return InvalidError(kCrdType, name, causes);
  return std::nullopt;
}

void TestApiServer::Impl::EstablishCrd(json& crd) const {
  ResourceType type;
  CrdToType(crd, &type);
  json& names = crd["spec"]["names"];
  names["singular"] = type.singular;
  names["listKind"] = type.list_kind;
  if (!crd["spec"].contains("conversion")) crd["spec"]["conversion"] = {{"strategy", "None"}};
  std::string now = NowRfc3339();
  crd["status"] = {
      {"conditions",
       {{{"type", "NamesAccepted"}, {"status", "True"}, {"lastTransitionTime", now}, {"reason", "NoConflicts"},
         {"message", "no conflicts found"}},
        {{"type", "Established"}, {"status", "True"}, {"lastTransitionTime", now}, {"reason", "InitialNamesAccepted"},
         {"message", "the initial names have been accepted"}}}},
      {"acceptedNames", names},
      {"storedVersions", {type.version}}};
}

int64_t ParseQuantityMilli(const std::string& text) {
  if (text.empty()) return 0;
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' || text[i] == '-' ||
                             text[i] == '+')) {
    ++i;
  }
  double number = std::atof(text.substr(0, i).c_str());
  std::string suffix = text.substr(i);
  double mult = 1;
  if (suffix == "m") mult = 1e-3;
  else if (suffix == "k") mult = 1e3;
  else if (suffix == "M") mult = 1e6;
  else if (suffix == "G") mult = 1e9;
  else if (suffix == "T") mult = 1e12;
  else if (suffix == "Ki") mult = 1024.0;
  else if (suffix == "Mi") mult = 1024.0 * 1024;
  else if (suffix == "Gi") mult = 1024.0 * 1024 * 1024;
  else if (suffix == "Ti") mult = 1024.0 * 1024 * 1024 * 1024;
  return static_cast<int64_t>(number * mult * 1000.0 + 0.5);
}

void TestApiServer::Impl::PrepareBuiltinCreate(const ResourceType& type, json& object, std::vector<FieldCause>* causes) {
  if (type.plural == "pods") {
    json& spec = object["spec"];
    if (!spec.is_object()) spec = json::object();
    if (!options_.scheduling_gates) spec.erase("schedulingGates");  // an unknown field there
    if (!spec.contains("containers") || !spec["containers"].is_array() || spec["containers"].empty()) {
      causes->push_back({"FieldValueRequired", "Required value", "spec.containers"});
    } else {
      std::set<std::string> seen;
      for (size_t i = 0; i < spec["containers"].size(); ++i) {
        json& c = spec["containers"][i];
        std::string path = "spec.containers[" + std::to_string(i) + "]";
        std::string cname = c.value("name", "");
        if (cname.empty()) {
          causes->push_back({"FieldValueRequired", "Required value", path + ".name"});
        } else if (!seen.insert(cname).second) {
          causes->push_back({"FieldValueDuplicate", "Duplicate value: \"" + cname + "\"", path + ".name"});
        }
        if (c.value("image", "").empty()) causes->push_back({"FieldValueRequired", "Required value", path + ".image"});
        if (!c.contains("terminationMessagePath")) c["terminationMessagePath"] = "/dev/termination-log";
        if (!c.contains("terminationMessagePolicy")) c["terminationMessagePolicy"] = "File";
        if (!c.contains("imagePullPolicy")) c["imagePullPolicy"] = "IfNotPresent";
        if (!c.contains("resources")) c["resources"] = json::object();
      }
    }
    std::string restart = spec.value("restartPolicy", "Always");
    if (restart != "Always" && restart != "OnFailure" && restart != "Never") {
      causes->push_back({"FieldValueNotSupported",
                         "Unsupported value: \"" + restart + "\": supported values: \"Always\", \"OnFailure\", \"Never\"",
                         "spec.restartPolicy"});
    }
    spec["restartPolicy"] = restart;
    if (!spec.contains("schedulerName")) spec["schedulerName"] = "default-scheduler";
    if (!spec.contains("dnsPolicy")) spec["dnsPolicy"] = "ClusterFirst";
    if (!spec.contains("terminationGracePeriodSeconds")) spec["terminationGracePeriodSeconds"] = 30;
    if (!spec.contains("serviceAccountName")) spec["serviceAccountName"] = "default";
    if (!spec.contains("securityContext")) spec["securityContext"] = json::object();
    if (!spec.contains("priority")) spec["priority"] = 0;
    if (!spec.contains("enableServiceLinks")) spec["enableServiceLinks"] = true;
    // QoS class from requests/limits, as the real server computes it (simplified).
    bool any = false;
    bool guaranteed = spec.contains("containers") && spec["containers"].is_array();
    if (guaranteed) {
      for (const auto& c : spec["containers"]) {
        json res = c.value("resources", json::object());
        json req = res.value("requests", json::object());
        json lim = res.value("limits", json::object());
        if (!req.empty() || !lim.empty()) any = true;
        if (lim.empty() || !lim.contains("cpu") || !lim.contains("memory")) guaranteed = false;
        for (auto it = req.begin(); it != req.end(); ++it) {
          if (!lim.contains(it.key()) || lim[it.key()] != it.value()) guaranteed = false;
        }
      }
    }
    json status = {{"phase", "Pending"}, {"qosClass", !any ? "BestEffort" : (guaranteed ? "Guaranteed" : "Burstable")}};
    if (spec.contains("schedulingGates") && spec["schedulingGates"].is_array() && !spec["schedulingGates"].empty()) {
      status["conditions"] = {{{"type", "PodScheduled"}, {"status", "False"}, {"lastProbeTime", nullptr},
                               {"lastTransitionTime", NowRfc3339()}, {"reason", "SchedulingGated"},
                               {"message", "Scheduling is blocked due to non-empty scheduling gates"}}};
    }
    object["status"] = status;
  } else if (type.plural == "services") {
    json& spec = object["spec"];
    if (!spec.is_object()) spec = json::object();
    if (!spec.contains("type")) spec["type"] = "ClusterIP";
    if (!spec.contains("sessionAffinity")) spec["sessionAffinity"] = "None";
    if (!spec.contains("clusterIP")) {
      uint64_t n = ++pod_ip_counter_;
      spec["clusterIP"] = "10.96." + std::to_string((n / 250) % 250) + "." + std::to_string(n % 250 + 1);
    }
    spec["clusterIPs"] = {spec["clusterIP"]};
    if (spec.contains("ports") && spec["ports"].is_array()) {
      for (auto& p : spec["ports"]) {
        if (!p.contains("protocol")) p["protocol"] = "TCP";
        if (!p.contains("targetPort") && p.contains("port")) p["targetPort"] = p["port"];
      }
    }
    if (!spec.contains("ipFamilies")) spec["ipFamilies"] = {"IPv4"};
    if (!spec.contains("ipFamilyPolicy")) spec["ipFamilyPolicy"] = "SingleStack";
    if (!spec.contains("internalTrafficPolicy")) spec["internalTrafficPolicy"] = "Cluster";
    object["status"] = {{"loadBalancer", json::object()}};
  } else if (type.plural == "namespaces") {
    object["status"] = {{"phase", "Active"}};
    object["metadata"]["labels"]["kubernetes.io/metadata.name"] = object["metadata"].value("name", "");
  } else if (type.plural == "events") {
    if (!object.contains("count")) object["count"] = 1;
    if (!object.contains("type")) object["type"] = "Normal";
    if (!object.contains("involvedObject")) {
      causes->push_back({"FieldValueRequired", "Required value", "involvedObject"});
    }
  }
}

void TestApiServer::Impl::ValidateBuiltinUpdate(const ResourceType& type, const json& old_object,
                                                const json& new_object, std::vector<FieldCause>* causes) {
  if (type.plural != "pods") return;
  auto gates = [](const json& pod) {
    std::set<std::string> out;
    if (pod.contains("spec") && pod["spec"].contains("schedulingGates") && pod["spec"]["schedulingGates"].is_array()) {
      for (const auto& g : pod["spec"]["schedulingGates"]) out.insert(g.value("name", ""));
    }
    return out;
  };
  std::set<std::string> before = gates(old_object);
  for (const auto& g : gates(new_object)) {
    if (!before.count(g)) {
      causes->push_back({"FieldValueForbidden",
                         "Forbidden: only deletion is allowed, but found new scheduling gate '" + g + "'",
                         "spec.schedulingGates"});
    }
  }
  const json& spec = new_object.contains("spec") ? new_object["spec"] : json::object();
  if (!spec.contains("containers") || !spec["containers"].is_array() || spec["containers"].empty()) {
    causes->push_back({"FieldValueRequired", "Required value", "spec.containers"});
  }
  std::string old_node = old_object.contains("spec") ? old_object["spec"].value("nodeName", "") : "";
  std::string new_node = spec.value("nodeName", "");
  if (!old_node.empty() && old_node != new_node) {
    causes->push_back({"FieldValueForbidden", "Forbidden: pod updates may not change fields other than "
                                              "`spec.containers[*].image`, `spec.schedulingGates` and a few others",
                       "spec"});
  }
}

namespace {

// patchMergeKey of the list fields Ringleader and kubectl touch.
std::string MergeKeyFor(const std::string& field, const json& element) {
  if (field == "containers" || field == "initContainers" || field == "ephemeralContainers" || field == "env" ||
      field == "volumes" || field == "imagePullSecrets" || field == "schedulingGates" ||
      field == "containerStatuses" || field == "initContainerStatuses") {
    return "name";
  }
  if (field == "ports") return element.contains("containerPort") ? "containerPort" : "port";
  if (field == "volumeMounts") return "mountPath";
  if (field == "conditions") return "type";
  if (field == "ownerReferences") return "uid";
  if (field == "readinessGates") return "conditionType";
  if (field == "hostAliases") return "ip";
  return "";
}

}  // namespace

json TestApiServer::Impl::StrategicMerge(const json& target, const json& patch, const std::string& field) {
  if (!patch.is_object()) return patch;
  if (patch.value("$patch", "") == "replace") {
    json copy = patch;
    copy.erase("$patch");
    return copy;
  }
  json result = target.is_object() ? target : json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    const json& value = it.value();
    if (!key.empty() && key[0] == '$') continue;  // $setElementOrder/..., $retainKeys, $patch
    if (value.is_null()) {
      result.erase(key);
    } else if (value.is_object()) {
      if (value.value("$patch", "") == "delete") {
        result.erase(key);
      } else {
        result[key] = StrategicMerge(result.contains(key) ? result[key] : json::object(), value, key);
      }
    } else if (value.is_array() && !value.empty() && value[0].is_object() && !MergeKeyFor(key, value[0]).empty() &&
               result.contains(key) && result[key].is_array()) {
      json merged = result[key];
      for (const auto& element : value) {
        std::string mk = MergeKeyFor(key, element);
        if (!element.contains(mk)) {
          merged.push_back(element);
          continue;
        }
        auto found = std::find_if(merged.begin(), merged.end(),
                                  [&](const json& e) { return e.is_object() && e.contains(mk) && e[mk] == element[mk]; });
        if (element.value("$patch", "") == "delete") {
          if (found != merged.end()) merged.erase(found);
        } else if (found != merged.end()) {
          *found = StrategicMerge(*found, element, "");
        } else {
          json copy = element;
          copy.erase("$patch");
          merged.push_back(copy);
        }
      }
      result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  (void)field;
  return result;
}

}  // namespace ringleader::testapi
