// Table responses (Accept: application/json;as=Table;v=v1;g=meta.k8s.io), as kubectl get
// asks for: CRD columns come from additionalPrinterColumns, built-ins get the columns a real
// server prints for them.

#include <cstdio>

#include "server_impl.h"

namespace ringleader::testapi {
namespace {

const char kNameDescription[] =
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow "
    "a client to request the generation of an appropriate name automatically. Name is primarily intended for creation "
    "idempotence and configuration definition. Cannot be updated. More info: "
    "http://kubernetes.io/docs/user-guide/identifiers#names";

json Column(const std::string& name, const std::string& type, int priority, const std::string& description = "",
            const std::string& format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", description}, {"priority", priority}};
}

std::string AgeOf(const json& obj, const std::string& ts) {
  if (ts.empty()) return "<unknown>";
  auto age = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() -
                                                                ParseRfc3339(ts).value_or(std::chrono::system_clock::now()));
  (void)obj;
  return FormatAge(age);
}

std::string Str(const json& obj, std::initializer_list<const char*> path) {
  const json* cur = &obj;
  for (const char* p : path) {
    if (!cur->is_object() || !cur->contains(p)) return "";
    cur = &(*cur)[p];
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_null()) return "";
  return cur->dump();
}

std::string PodStatusText(const json& pod) {
  std::string reason = Str(pod, {"status", "reason"});
  if (reason.empty()) reason = Str(pod, {"status", "phase"});
  const json& spec = pod.value("spec", json::object());
  if (reason == "Pending" && spec.contains("schedulingGates") && !spec["schedulingGates"].empty()) {
    reason = "SchedulingGated";
  }
  const json& status = pod.value("status", json::object());
  if (status.contains("containerStatuses")) {
    for (const auto& cs : status["containerStatuses"]) {
      const json& state = cs.value("state", json::object());
      if (state.contains("waiting") && !state["waiting"].value("reason", "").empty()) {
        reason = state["waiting"]["reason"];
      } else if (state.contains("terminated")) {
        std::string r = state["terminated"].value("reason", "");
        reason = r.empty() ? "ExitCode:" + std::to_string(state["terminated"].value("exitCode", 0)) : r;
      }
    }
  }
  if (!Str(pod, {"metadata", "deletionTimestamp"}).empty()) reason = "Terminating";
  return reason;
}

json CellFor(const json& column, const json& obj) {
  std::vector<json> found = EvalJsonPath(obj, column.value("jsonPath", ""));
  if (found.empty()) return nullptr;
  std::string type = column.value("type", "string");
  const json& v = found.front();
  if (type == "date") {
    if (!v.is_string()) return nullptr;
    return AgeOf(obj, v.get<std::string>());
  }
  if (type == "integer" || type == "number" || type == "boolean") return v;
  std::string text;
  for (const auto& f : found) {
    std::string part = f.is_string() ? f.get<std::string>() : f.dump();
    text += (text.empty() ? "" : ",") + part;
  }
  return text;
}

}  // namespace

std::string FormatAge(std::chrono::seconds age) {
  int64_t s = std::max<int64_t>(0, age.count());
  char buf[32];
  if (s < 120) {
    std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(s));
  } else if (s < 600) {
    std::snprintf(buf, sizeof(buf), "%lldm%llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else if (s < 3 * 3600) {
    std::snprintf(buf, sizeof(buf), "%lldm", static_cast<long long>(s / 60));
  } else if (s < 8 * 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  } else if (s < 48 * 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh", static_cast<long long>(s / 3600));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldd", static_cast<long long>(s / 86400));
  }
  return buf;
}

std::vector<json> EvalJsonPath(const json& object, const std::string& raw_path) {
  std::string path = raw_path;
  if (!path.empty() && path.front() == '{' && path.back() == '}') path = path.substr(1, path.size() - 2);
  std::vector<const json*> current = {&object};
  size_t i = 0;
  while (i < path.size() && !current.empty()) {
    std::vector<const json*> next;
    if (path[i] == '.') {
      ++i;
      size_t end = path.find_first_of(".[", i);
      if (end == std::string::npos) end = path.size();
      std::string key = path.substr(i, end - i);
      i = end;
      if (key.empty()) continue;
      for (const json* c : current) {
        if (c->is_object() && c->contains(key)) next.push_back(&(*c)[key]);
      }
    } else if (path[i] == '[') {
      size_t end = path.find(']', i);
      if (path.compare(i, 3, "[?(") == 0) end = path.find(")]", i) + 1;
      if (end == std::string::npos || end == 0) return {};
      std::string inner = path.substr(i + 1, end - i - 1);
      i = end + 1;
      if (inner == "*") {
        for (const json* c : current) {
          if (c->is_array()) {
            for (const auto& e : *c) next.push_back(&e);
          } else if (c->is_object()) {
            for (const auto& e : c->items()) next.push_back(&e.value());
          }
        }
      } else if (inner.rfind("?(", 0) == 0) {
        // ?(@.key==value) or ?(@.key!=value), value quoted with ' or ".
        std::string expr = inner.substr(2, inner.size() - 3);
        bool negate = expr.find("!=") != std::string::npos;
        size_t op = expr.find(negate ? "!=" : "==");
        if (op == std::string::npos || expr.rfind("@.", 0) != 0) return {};
        std::string key = expr.substr(2, op - 2);
        std::string value = expr.substr(op + 2);
        while (!key.empty() && key.back() == ' ') key.pop_back();
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) value = value.substr(1, value.size() - 2);
        for (const json* c : current) {
          if (!c->is_array()) continue;
          for (const auto& e : *c) {
            std::vector<json> got = EvalJsonPath(e, "." + key);
            std::string actual;
            if (!got.empty()) actual = got[0].is_string() ? got[0].get<std::string>() : got[0].dump();
            if ((actual == value) != negate) next.push_back(&e);
          }
        }
      } else {
        long idx = std::atol(inner.c_str());
        for (const json* c : current) {
          if (!c->is_array()) continue;
          long n = static_cast<long>(c->size());
          long k = idx < 0 ? n + idx : idx;
          if (k >= 0 && k < n) next.push_back(&(*c)[static_cast<size_t>(k)]);
        }
      }
    } else {
      // A path without the leading dot ("status.phase").
      path.insert(i, ".");
      continue;
    }
    current = std::move(next);
  }
  std::vector<json> out;
  for (const json* c : current) out.push_back(*c);
  return out;
}

namespace {

// The columns kubectl shows for this type (the Name column first), as the real server's
// table convertors define them.
json TableColumns(const ResourceType& type) {
  json columns = json::array();
  columns.push_back(Column("Name", "string", 0, kNameDescription, "name"));
  const std::string& r = type.plural;
  if (type.custom) {
    for (const auto& c : type.printer_columns) {
      columns.push_back(Column(c.value("name", ""), c.value("type", "string"), c.value("priority", 0),
                               c.value("description", "Custom resource definition column (in JSONPath format): " +
                                                          c.value("jsonPath", "")),
                               c.value("format", "")));
    }
    if (type.printer_columns.empty()) columns.push_back(Column("Age", "date", 0));
  } else if (r == "pods") {
    for (const char* n : {"Ready", "Status", "Restarts", "Age"}) columns.push_back(Column(n, "string", 0));
    for (const char* n : {"IP", "Node", "Nominated Node", "Readiness Gates"}) columns.push_back(Column(n, "string", 1));
  } else if (r == "nodes") {
    for (const char* n : {"Status", "Roles", "Age", "Version"}) columns.push_back(Column(n, "string", 0));
    columns.push_back(Column("Internal-IP", "string", 1));
  } else if (r == "services") {
    for (const char* n : {"Type", "Cluster-IP", "External-IP", "Port(s)", "Age"}) columns.push_back(Column(n, "string", 0));
    columns.push_back(Column("Selector", "string", 1));
  } else if (r == "events") {
    columns = json::array();
    for (const char* n : {"Last Seen", "Type", "Reason", "Object", "Message"}) columns.push_back(Column(n, "string", 0));
  } else if (r == "namespaces") {
    columns.push_back(Column("Status", "string", 0));
    columns.push_back(Column("Age", "string", 0));
  } else if (r == "leases") {
    columns.push_back(Column("Holder", "string", 0));
    columns.push_back(Column("Age", "string", 0));
  } else if (r == "customresourcedefinitions") {
    columns.push_back(Column("Created At", "date", 0));
  } else if (r == "configmaps") {
    columns.push_back(Column("Data", "integer", 0));
    columns.push_back(Column("Age", "string", 0));
  } else {
    columns.push_back(Column("Age", "string", 0));
  }
  return columns;
}

// One object's cells, in TableColumns' order.
json TableCells(const ResourceType& type, const json& obj) {
  const std::string& r = type.plural;
  std::string name = Str(obj, {"metadata", "name"});
  std::string age = AgeOf(obj, Str(obj, {"metadata", "creationTimestamp"}));
  json cells = json::array({name});
  if (type.custom) {
    for (const auto& c : type.printer_columns) cells.push_back(CellFor(c, obj));
    if (type.printer_columns.empty()) cells.push_back(age);
  } else if (r == "pods") {
    const json& status = obj.value("status", json::object());
    int total = obj.contains("spec") ? static_cast<int>(obj["spec"].value("containers", json::array()).size()) : 0;
    int ready = 0;
    int restarts = 0;
    for (const auto& cs : status.value("containerStatuses", json::array())) {
      if (cs.value("ready", false)) ++ready;
      restarts += cs.value("restartCount", 0);
    }
    std::string ip = Str(obj, {"status", "podIP"});
    std::string node = Str(obj, {"spec", "nodeName"});
    cells.insert(cells.end(), {std::to_string(ready) + "/" + std::to_string(total), PodStatusText(obj), restarts, age,
                               ip.empty() ? "<none>" : ip, node.empty() ? "<none>" : node, "<none>", "<none>"});
  } else if (r == "nodes") {
    std::string ready = "Unknown";
    for (const auto& c : obj.value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True" ? "Ready" : "NotReady";
    }
    if (obj.contains("spec") && obj["spec"].value("unschedulable", false)) ready += ",SchedulingDisabled";
    std::string ip = "<none>";
    for (const auto& a : obj.value("status", json::object()).value("addresses", json::array())) {
      if (a.value("type", "") == "InternalIP") ip = a.value("address", "");
    }
    cells.insert(cells.end(), {ready, "<none>", age, Str(obj, {"status", "nodeInfo", "kubeletVersion"}), ip});
  } else if (r == "services") {
    std::string ports;
    for (const auto& p : obj.value("spec", json::object()).value("ports", json::array())) {
      ports += (ports.empty() ? "" : ",") + std::to_string(p.value("port", 0)) + "/" + p.value("protocol", "TCP");
    }
    std::string selector;
    const json selector_map = obj.value("spec", json::object()).value("selector", json::object());
    for (const auto& kv : selector_map.items()) {
      selector += (selector.empty() ? "" : ",") + kv.key() + "=" + kv.value().get<std::string>();
    }
    cells.insert(cells.end(), {Str(obj, {"spec", "type"}), Str(obj, {"spec", "clusterIP"}), "<none>",
                               ports.empty() ? "<none>" : ports, age, selector.empty() ? "<none>" : selector});
  } else if (r == "events") {
    std::string last = Str(obj, {"lastTimestamp"});
    cells = json::array({last.empty() ? age : AgeOf(obj, last), Str(obj, {"type"}), Str(obj, {"reason"}),
                         Str(obj, {"involvedObject", "kind"}) + "/" + Str(obj, {"involvedObject", "name"}),
                         Str(obj, {"message"})});
  } else if (r == "namespaces") {
    cells.insert(cells.end(), {Str(obj, {"status", "phase"}), age});
  } else if (r == "leases") {
    cells.insert(cells.end(), {Str(obj, {"spec", "holderIdentity"}), age});
  } else if (r == "customresourcedefinitions") {
    cells.push_back(Str(obj, {"metadata", "creationTimestamp"}));
  } else if (r == "configmaps") {
    cells.insert(cells.end(), {obj.value("data", json::object()).size(), age});
  } else {
    cells.push_back(age);
  }
  return cells;
}

}  // namespace

json TestApiServer::Impl::BuildTable(const ResourceType& type, const std::vector<const json*>& objects,
                                     const std::string& rv) const {
  json rows = json::array();
  for (const json* o : objects) {
    const json& obj = *o;
    rows.push_back({{"cells", TableCells(type, obj)},
                    {"object", {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"},
                                {"metadata", obj.value("metadata", json::object())}}}});
  }
  return {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", {{"resourceVersion", rv}}},
          {"columnDefinitions", TableColumns(type)}, {"rows", rows}};
}

}  // namespace ringleader::testapi
