// TestApiServer: routing, CRUD semantics, watch, garbage collection, faults, request log.

#include <openssl/evp.h>
#include <strings.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include "server_impl.h"

namespace ringleader::testapi {
namespace {

constexpr size_t kMaxLoggedRequests = 200000;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

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

const char kDns1123Message[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

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

}  // namespace

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

namespace {

// The part of an object whose change bumps metadata.generation.
json SpecPart(const json& obj, bool ignore_status) {
  json copy = obj;
  copy.erase("metadata");
  if (ignore_status) copy.erase("status");
  return copy;
}

}  // namespace

json MakeStatus(int code, const std::string& reason, const std::string& message, const json& details) {
  json s = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
            {"message", message}, {"reason", reason}};
  if (!details.is_null()) s["details"] = details;
  s["code"] = code;
  return s;
}

std::string FormatRfc3339(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::chrono::system_clock::time_point ParseRfc3339(const std::string& text) {
  std::tm tm{};
  if (sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
             &tm.tm_sec) != 6) {
    return std::chrono::system_clock::now();
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

TestApiServer::Impl::Impl(TestApiServerOptions options) : options_(std::move(options)) {
  random_state_ ^= static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

TestApiServer::Impl::~Impl() { Stop(); }

std::string TestApiServer::Impl::NowRfc3339() const { return FormatRfc3339(std::chrono::system_clock::now()); }

std::string TestApiServer::Impl::NewUid() {
  // Random-looking but unique: counter mixed into a per-server random prefix.
  random_state_ = random_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t a = random_state_;
  uint64_t b = ++uid_counter_;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>((a >> 20) & 0xfff), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string TestApiServer::Impl::RandomSuffix() {
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  for (int i = 0; i < 5; ++i) {
    random_state_ = random_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    out.push_back(kAlphabet[(random_state_ >> 33) % (sizeof(kAlphabet) - 1)]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Lifecycle

Status TestApiServer::Impl::Start() {
  // TLS first: a certificate that does not load fails Start before anything is set up.
  http_ = std::make_unique<HttpServer>([this](const HttpRequest& req, HttpResponseWriter& out) { Handle(req, out); });
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return InvalidArgumentError(options_.tls_cert_file.empty() ? "--tls-key (tls_key_file) needs --tls-cert (tls_cert_file)"
                                                               : "--tls-cert (tls_cert_file) needs --tls-key (tls_key_file)");
  }
  if (!options_.tls_cert_file.empty()) RETURN_IF_ERROR(http_->EnableTls(options_.tls_cert_file, options_.tls_key_file));
  {
    std::lock_guard<std::mutex> lock(mu_);
    rv_ = 100;
    RegisterBuiltinTypes();
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      const ResourceType* type = FindType("", "v1", "namespaces");
      json obj = {{"apiVersion", "v1"},
                  {"kind", "Namespace"},
                  {"metadata", {{"name", ns}, {"uid", NewUid()}, {"creationTimestamp", NowRfc3339()},
                                {"labels", {{"kubernetes.io/metadata.name", ns}}}}},
                  {"spec", {{"finalizers", {"kubernetes"}}}},
                  {"status", {{"phase", "Active"}}}};
      Commit(*type, "ADDED", obj, nullptr);
    }
    if (options_.nodes > 0) CreateFakeNodes();
  }
  for (const std::string& file : options_.crd_files) {
    std::ifstream in(file);
    if (!in) return NotFoundError("cannot read CRD file " + file);
    std::stringstream text;
    text << in.rdbuf();
    Status st = AddCrdsFromYaml(text.str());
    if (!st.ok()) return Status(st.code(), file + ": " + st.message());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Bootstrap objects are "compacted": a watch from an older version gets 410.
    compacted_rv_ = rv_;
    history_.clear();
    stopping_ = false;
  }
  RETURN_IF_ERROR(http_->Start(options_.listen_host, options_.port));
  if (options_.simulate_pods) sim_thread_ = std::thread([this] { SimulatorLoop(); });
  if (options_.simulate_kueue) kueue_thread_ = std::thread([this] { KueueAdmitterLoop(); });
  namespace_thread_ = std::thread([this] { NamespaceControllerLoop(); });
  started_ = true;
  return Status::Ok();
}

void TestApiServer::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !started_) return;
    stopping_ = true;
    for (auto& w : watchers_) {
      w->closed = true;
      w->cv.notify_all();
    }
    sim_cv_.notify_all();
    kueue_cv_.notify_all();
    namespace_cv_.notify_all();
  }
  if (sim_thread_.joinable()) sim_thread_.join();
  if (kueue_thread_.joinable()) kueue_thread_.join();
  if (namespace_thread_.joinable()) namespace_thread_.join();
  if (http_) http_->Stop();
  started_ = false;
}

Status TestApiServer::Impl::AddCrdsFromYaml(const std::string& yaml_text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml_text);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(std::string("bad YAML: ") + e.what());
  }
  for (const YAML::Node& doc : docs) {
    if (!doc || doc.IsNull()) continue;
    // yaml-cpp -> JSON text -> nlohmann, via a small emitter to keep scalars typed.
    std::function<json(const YAML::Node&)> to_json = [&](const YAML::Node& n) -> json {
      switch (n.Type()) {
        case YAML::NodeType::Map: {
          json o = json::object();
          for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second);
          return o;
        }
        case YAML::NodeType::Sequence: {
          json a = json::array();
          for (const auto& item : n) a.push_back(to_json(item));
          return a;
        }
        case YAML::NodeType::Scalar: {
          const std::string& s = n.Scalar();
          if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str") return s;  // quoted
          if (s == "true" || s == "True") return true;
          if (s == "false" || s == "False") return false;
          if (s == "null" || s == "~") return nullptr;
          char* end = nullptr;
          long long i = std::strtoll(s.c_str(), &end, 10);
          if (!s.empty() && end && *end == '\0') return i;
          double d = std::strtod(s.c_str(), &end);
          if (!s.empty() && end && *end == '\0' && s.find_first_of("0123456789") != std::string::npos) return d;
          return s;
        }
        default:
          return nullptr;
      }
    };
    json crd = to_json(doc);
    if (crd.value("kind", "") != "CustomResourceDefinition") continue;
    std::lock_guard<std::mutex> lock(mu_);
    ResourceType type;
    if (auto err = CrdToType(crd, &type)) return InvalidArgumentError(err->message);
    const ResourceType* crd_type = FindType("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    json* existing = FindObject(crd_type->Key(), "", Name(crd));
    if (existing != nullptr) continue;
    crd["metadata"]["uid"] = NewUid();
    crd["metadata"]["creationTimestamp"] = NowRfc3339();
    crd["metadata"]["generation"] = 1;
    EstablishCrd(crd);
    types_.push_back(type);
    ++openapi_generation_;
    Commit(*crd_type, "ADDED", crd, nullptr);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// Registry and store

const ResourceType* TestApiServer::Impl::FindType(const std::string& group, const std::string& version,
                                                  const std::string& plural) const {
  for (const auto& t : types_) {
    if (t.active && t.group == group && t.version == version && t.plural == plural) return &t;
  }
  return nullptr;
}

const ResourceType* TestApiServer::Impl::FindTypeByKey(const std::string& key) const {
  for (const auto& t : types_) {
    if (t.active && t.Key() == key) return &t;
  }
  return nullptr;
}

json* TestApiServer::Impl::FindObjectByUid(const std::string& uid) {
  auto idx = uid_index_.find(uid);
  if (idx == uid_index_.end()) return nullptr;
  auto t = objects_.find(idx->second.first);
  if (t == objects_.end()) return nullptr;
  auto o = t->second.find(idx->second.second);
  return o == t->second.end() ? nullptr : &o->second;
}

json* TestApiServer::Impl::FindObject(const std::string& type_key, const std::string& ns, const std::string& name) {
  auto t = objects_.find(type_key);
  if (t == objects_.end()) return nullptr;
  auto o = t->second.find(ObjKey(ns, name));
  return o == t->second.end() ? nullptr : &o->second;
}

namespace {

bool WatcherMatches(const Watcher& w, const json& obj) {
  if (!w.namespace_name.empty() && Namespace(obj) != w.namespace_name) return false;
  if (!w.labels.empty()) {
    const json* labels = nullptr;
    auto m = obj.find("metadata");
    if (m != obj.end() && m->contains("labels")) labels = &(*m)["labels"];
    if (!w.labels.MatchesJson(labels ? *labels : json())) return false;
  }
  return w.fields.empty() || w.fields.Matches(obj);
}

// The watch event type this watcher sees for an event, or "" when it sees nothing.
std::string EventTypeFor(const Watcher& w, const HistoryEvent& ev) {
  bool now = WatcherMatches(w, *ev.object);
  if (ev.type == "MODIFIED") {
    bool before = ev.old_object ? WatcherMatches(w, *ev.old_object) : now;
    if (before && now) return "MODIFIED";
    if (now) return "ADDED";
    if (before) return "DELETED";
    return "";
  }
  return now ? ev.type : "";
}

std::string EventLine(const std::string& type, const std::string& object_text) {
  return "{\"type\":\"" + type + "\",\"object\":" + object_text + "}\n";
}

}  // namespace

void TestApiServer::Impl::Commit(const ResourceType& type, const std::string& event_type, json& object,
                                 const json* old_object) {
  ++rv_;
  object["metadata"]["resourceVersion"] = std::to_string(rv_);
  std::string key = ObjKey(Namespace(object), Name(object));
  if (event_type == "DELETED") {
    objects_[type.Key()].erase(key);
    uid_index_.erase(Uid(object));
  } else {
    objects_[type.Key()][key] = object;
    uid_index_[Uid(object)] = {type.Key(), key};
  }
  HistoryEvent ev{rv_, type.Key(), event_type, std::make_shared<const json>(object),
                  old_object ? std::make_shared<const json>(*old_object) : nullptr};
  std::string text;
  for (auto& w : watchers_) {
    if (w->closed || w->type_key != ev.type_key) continue;
    std::string t = EventTypeFor(*w, ev);
    if (t.empty()) continue;
    if (text.empty()) text = object.dump();
    w->lines.push_back(EventLine(t, text));
    w->cv.notify_all();
  }
  history_.push_back(std::move(ev));
  while (history_.size() > std::max<size_t>(options_.watch_history, 1)) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  if (type.plural == "pods" || type.plural == "nodes") {
    if (options_.simulate_pods) SimObserveLocked(type, event_type, key, object);
    sim_dirty_ = true;
    sim_cv_.notify_all();
  }
  if (options_.simulate_kueue && type.group == "kueue.x-k8s.io") {
    kueue_dirty_ = true;
    kueue_cv_.notify_all();
  }
}

void TestApiServer::Impl::RemoveObject(const ResourceType& type, json& object) {
  Commit(type, "DELETED", object, nullptr);
  if (type.plural == "pods") sim_pods_.erase(Uid(object));
}

void TestApiServer::Impl::NamespaceControllerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    FinishNamespaceTerminationsLocked();
    if (terminating_namespaces_.empty()) {
      namespace_cv_.wait(lock);
    } else {
      auto next = terminating_namespaces_.begin()->second;
      for (const auto& [ns, due] : terminating_namespaces_) next = std::min(next, due);
      namespace_cv_.wait_until(lock, next);
    }
  }
}

void TestApiServer::Impl::FinishNamespaceTerminationsLocked() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = terminating_namespaces_.begin(); it != terminating_namespaces_.end();) {
    if (now < it->second) {
      ++it;
      continue;
    }
    const std::string ns = it->first;
    it = terminating_namespaces_.erase(it);
    for (auto& t : types_) {
      if (!t.active || !t.namespaced) continue;
      auto objs = objects_.find(t.Key());
      if (objs == objects_.end()) continue;
      std::vector<json> doomed;
      for (auto& [okey, o] : objs->second) {
        if (Namespace(o) == ns) doomed.push_back(o);
      }
      for (auto& o : doomed) RemoveObject(t, o);
    }
    const ResourceType* ns_type = FindType("", "v1", "namespaces");
    if (json* stored = FindObject(ns_type->Key(), "", ns)) {
      json gone = *stored;
      RemoveObject(*ns_type, gone);
    }
  }
}

void TestApiServer::Impl::DeleteObjectLocked(const ResourceType& type, json& stored, const std::string& propagation,
                                             std::optional<int64_t> grace_seconds) {
  json object = stored;  // `stored` is invalidated by Commit
  if (propagation == "Orphan") {
    std::string uid = Uid(object);
    for (auto& [tkey, objs] : objects_) {
      const ResourceType* dep_type = FindTypeByKey(tkey);
      if (dep_type == nullptr) continue;
      std::vector<std::string> keys;
      for (auto& [okey, dep] : objs) {
        const json& refs = dep["metadata"].value("ownerReferences", json::array());
        for (const auto& r : refs) {
          if (r.value("uid", "") == uid) keys.push_back(okey);
        }
      }
      for (const auto& okey : keys) {
        json dep = objs[okey];
        json old = dep;
        json kept = json::array();
        for (const auto& r : dep["metadata"]["ownerReferences"]) {
          if (r.value("uid", "") != uid) kept.push_back(r);
        }
        if (kept.empty()) {
          dep["metadata"].erase("ownerReferences");
        } else {
          dep["metadata"]["ownerReferences"] = kept;
        }
        Commit(*dep_type, "MODIFIED", dep, &old);
      }
    }
  }
  std::vector<std::string> finalizers = Finalizers(object);
  if (propagation == "Foreground" &&
      std::find(finalizers.begin(), finalizers.end(), "foregroundDeletion") == finalizers.end()) {
    finalizers.push_back("foregroundDeletion");
  }
  if (type.plural == "pods" && options_.simulate_pods && finalizers.empty() &&
      !StrField(object, "spec", "nodeName").empty()) {
    // A bound pod is the kubelet's to remove (the registry's graceful deletion): it stays,
    // Terminating, until its node confirms the containers stopped. Only a grace period of 0
    // (kubectl delete --force --grace-period=0) removes it without the kubelet.
    int64_t grace = 30;
    const json& spec = object["spec"];
    if (spec.contains("terminationGracePeriodSeconds") && spec["terminationGracePeriodSeconds"].is_number_integer()) {
      grace = std::max<int64_t>(0, spec["terminationGracePeriodSeconds"].get<int64_t>());
    }
    if (grace_seconds) grace = std::max<int64_t>(0, *grace_seconds);
    // As the registry's CheckGracefulDelete: a pod that already ended has nothing to stop.
    const std::string phase = StrField(object, "status", "phase");
    if (phase == "Succeeded" || phase == "Failed") grace = 0;
    if (grace > 0) {
      if (!HasDeletionTimestamp(object)) {
        json old = object;
        // As the real registry: deletionTimestamp is when the grace period ends.
        object["metadata"]["deletionTimestamp"] =
            FormatRfc3339(std::chrono::system_clock::now() + std::chrono::seconds(grace));
        object["metadata"]["deletionGracePeriodSeconds"] = grace;
        Commit(type, "MODIFIED", object, &old);
        auto stop = std::min<std::chrono::milliseconds>(options_.pod_stop_delay, std::chrono::seconds(grace));
        pending_pod_deletions_[Uid(object)] = std::chrono::steady_clock::now() + stop;
        sim_cv_.notify_all();
      }
      return;
    }
  }
  if (!finalizers.empty()) {
    if (!HasDeletionTimestamp(object) || Finalizers(object) != finalizers) {
      json old = object;
      if (!HasDeletionTimestamp(object)) {
        object["metadata"]["deletionTimestamp"] = NowRfc3339();
        object["metadata"]["deletionGracePeriodSeconds"] = 0;
        // Like the real registry (rest.BeforeDelete): starting a deletion bumps generation.
        if (object["metadata"].contains("generation")) {
          object["metadata"]["generation"] = object["metadata"]["generation"].get<int64_t>() + 1;
        }
      }
      object["metadata"]["finalizers"] = finalizers;
      Commit(type, "MODIFIED", object, &old);
    }
    return;
  }
  if (type.plural == "namespaces") {
    // Like the real server: the namespace turns Terminating and its content stays a moment
    // (the namespace controller removes it asynchronously), so `kubectl delete -k` can still
    // delete the namespaced objects it lists after the Namespace. New content is refused.
    if (!HasDeletionTimestamp(object)) {
      json old = object;
      object["metadata"]["deletionTimestamp"] = NowRfc3339();
      object["status"]["phase"] = "Terminating";
      Commit(type, "MODIFIED", object, &old);
      terminating_namespaces_[Name(object)] = std::chrono::steady_clock::now() + kNamespaceTermination;
      namespace_cv_.notify_all();
    }
    return;
  }
  if (type.plural == "customresourcedefinitions") {
    // The real server holds the CRD with deletionTimestamp while it removes the custom
    // resources; here that is instantaneous, so only the timestamp shows.
    object["metadata"]["deletionTimestamp"] = NowRfc3339();
    for (auto& t : types_) {
      if (!t.active || !t.custom || t.crd_name != Name(object)) continue;
      auto it = objects_.find(t.Key());
      if (it != objects_.end()) {
        std::vector<json> doomed;
        for (auto& [okey, o] : it->second) doomed.push_back(o);
        for (auto& o : doomed) RemoveObject(t, o);
      }
      t.active = false;
      for (auto& w : watchers_) {
        if (w->type_key == t.Key()) {
          w->closed = true;
          w->cv.notify_all();
        }
      }
      ++openapi_generation_;
    }
  }
  RemoveObject(type, object);
}

std::optional<ApiError> TestApiServer::Impl::AdmitObject(const ResourceType& type, json& object, const json* existing,
                                                         const std::string& name, std::vector<FieldCause> causes,
                                                         bool strict) {
  if (type.custom) {
    std::vector<std::string> unknown = PruneUnknownFields(object, type.schema);
    if (strict && !unknown.empty()) {
      // fieldValidation=Strict (kubectl's default): unknown fields are an error, not pruned.
      std::string fields;
      for (const auto& f : unknown) fields += (fields.empty() ? "" : ", ") + ("unknown field \"" + f + "\"");
      return BadRequest(type.kind + " in version \"" + type.version + "\" cannot be handled as a " + type.kind +
                        ": strict decoding error: " + fields);
    }
    ApplyDefaults(object, type.schema);
    auto more = ValidateAgainstSchema(object, type.schema);
    causes.insert(causes.end(), more.begin(), more.end());
  } else if (type.plural == "customresourcedefinitions") {
    ResourceType crd_type;
    if (auto err = CrdToType(object, &crd_type)) return err;
  } else if (existing == nullptr) {
    PrepareBuiltinCreate(type, object, &causes);
  } else {
    ValidateBuiltinUpdate(type, *existing, object, &causes);
  }
  if (!causes.empty()) return InvalidError(type, name, causes);
  return std::nullopt;
}

void TestApiServer::Impl::RunGarbageCollection() {
  for (int round = 0; round < 64; ++round) {
    std::set<std::string> referenced;  // owner uids still referenced by a live dependent
    for (auto& [tkey, objs] : objects_) {
      for (auto& [okey, o] : objs) {
        auto m = o.find("metadata");
        if (m == o.end() || !m->contains("ownerReferences")) continue;
        for (const auto& r : (*m)["ownerReferences"]) referenced.insert(r.value("uid", ""));
      }
    }
    struct Action {
      const ResourceType* type;
      std::string key;
      bool finish_foreground;  // drop the foregroundDeletion finalizer
    };
    std::vector<Action> actions;
    for (auto& [tkey, objs] : objects_) {
      const ResourceType* type = FindTypeByKey(tkey);
      if (type == nullptr) continue;
      for (auto& [okey, o] : objs) {
        const json& meta = o["metadata"];
        if (HasDeletionTimestamp(o)) {
          auto f = Finalizers(o);
          if (std::find(f.begin(), f.end(), "foregroundDeletion") != f.end() && !referenced.count(Uid(o))) {
            actions.push_back({type, okey, true});
          }
          continue;
        }
        if (!meta.contains("ownerReferences") || meta["ownerReferences"].empty()) continue;
        bool owner_alive = false;
        for (const auto& r : meta["ownerReferences"]) {
          json* owner = FindObjectByUid(r.value("uid", ""));
          if (owner == nullptr) continue;
          auto of = Finalizers(*owner);
          bool owner_foreground =
              HasDeletionTimestamp(*owner) && std::find(of.begin(), of.end(), "foregroundDeletion") != of.end();
          if (!owner_foreground) owner_alive = true;
        }
        if (!owner_alive) actions.push_back({type, okey, false});
      }
    }
    if (actions.empty()) return;
    for (const Action& a : actions) {
      auto tobjs = objects_.find(a.type->Key());
      if (tobjs == objects_.end()) continue;
      auto oit = tobjs->second.find(a.key);
      if (oit == tobjs->second.end()) continue;
      if (a.finish_foreground) {
        json obj = oit->second;
        json old = obj;
        json kept = json::array();
        for (const auto& f : obj["metadata"]["finalizers"]) {
          if (f != "foregroundDeletion") kept.push_back(f);
        }
        if (kept.empty()) {
          obj["metadata"].erase("finalizers");
          RemoveObject(*a.type, obj);
        } else {
          obj["metadata"]["finalizers"] = kept;
          Commit(*a.type, "MODIFIED", obj, &old);
        }
      } else {
        DeleteObjectLocked(*a.type, oit->second, "Background");
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// HTTP plumbing

void TestApiServer::Impl::LogRequest(const RequestRecord& record) {
  std::lock_guard<std::mutex> lock(log_mu_);
  RequestRecord r = record;
  r.seq = ++log_seq_;
  log_.push_back(std::move(r));
  while (log_.size() > kMaxLoggedRequests) log_.pop_front();
}

void TestApiServer::Impl::Reply(HttpResponseWriter& out, RequestRecord& record, int status, const json& body,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
  // Logged before the answer goes out, so a client that got it sees it in the log.
  record.status = status;
  LogRequest(record);
  out.Send(status, "application/json", body.dump(), headers);
}

void TestApiServer::Impl::ReplyError(HttpResponseWriter& out, RequestRecord& record, const ApiError& error) {
  Reply(out, record, error.code, MakeStatus(error.code, error.reason, error.message, error.details), error.headers);
}

namespace {

// "Authorization: Bearer <token>", the scheme case-insensitive, as kube-apiserver's bearer
// token authenticator reads it.
bool HasBearerToken(const HttpRequest& req, const std::string& token) {
  static constexpr char kScheme[] = "bearer ";
  const std::string header = req.Header("authorization");
  if (header.size() < sizeof(kScheme) - 1 || strncasecmp(header.c_str(), kScheme, sizeof(kScheme) - 1) != 0) {
    return false;
  }
  return header.compare(sizeof(kScheme) - 1, std::string::npos, token) == 0;
}

}  // namespace

void TestApiServer::Impl::Handle(const HttpRequest& req, HttpResponseWriter& out) {
  if (!options_.token.empty() && !HasBearerToken(req, options_.token)) {
    // Authentication comes before everything else, faults and control endpoints included.
    RequestRecord record;
    record.method = req.method;
    record.path = req.path;
    record.query = req.raw_query;
    record.content_type = req.Header("content-type");
    ReplyError(out, record, {401, "Unauthorized", "Unauthorized", nullptr, {}});
    return;
  }
  // A malformed object (a label that is a number, a name that is an object, ...) makes a
  // json accessor throw; that is the client's error and must not take the server down.
  try {
    HandleUnsafe(req, out);
  } catch (const json::exception& e) {
    if (!out.sent()) {
      RequestRecord record;
      record.method = req.method;
      record.path = req.path;
      ReplyError(out, record, BadRequest(std::string("malformed object: ") + e.what()));
    }
  } catch (const std::exception& e) {
    if (!out.sent()) {
      RequestRecord record;
      record.method = req.method;
      record.path = req.path;
      ReplyError(out, record, {500, "InternalError", std::string("internal error: ") + e.what(), nullptr, {}});
    }
  }
}

void TestApiServer::Impl::HandleUnsafe(const HttpRequest& req, HttpResponseWriter& out) {
  if (req.path.rfind("/testing/", 0) == 0) {
    HandleControl(req, out);
    return;
  }
  int64_t delay = response_delay_ms_.load();
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
  RequestRecord record;
  record.method = req.method;
  record.path = req.path;
  record.query = req.raw_query;
  record.content_type = req.Header("content-type");
  if (HandleDiscovery(req, out)) {
    record.status = out.status();
    LogRequest(record);
    return;
  }
  HandleResource(req, out, record);
}

// ---------------------------------------------------------------------------------------
// Resources

void TestApiServer::Impl::HandleResource(const HttpRequest& req, HttpResponseWriter& out, RequestRecord& record) {
  std::vector<std::string> seg = SplitPath(req.path);
  std::string group, version;
  size_t rest = 0;
  if (seg.size() >= 3 && seg[0] == "api") {
    version = seg[1];
    rest = 2;
  } else if (seg.size() >= 4 && seg[0] == "apis") {
    group = seg[1];
    version = seg[2];
    rest = 3;
  } else {
    Reply(out, record, 404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
    return;
  }
  RequestTarget t;
  std::vector<std::string> r(seg.begin() + static_cast<long>(rest), seg.end());
  {
    std::lock_guard<std::mutex> lock(mu_);
    const ResourceType* ns_type = r.size() >= 3 && r[0] == "namespaces" ? FindType(group, version, r[2]) : nullptr;
    size_t i = 0;
    if (ns_type != nullptr && ns_type->namespaced) {
      t.namespace_name = r[1];
      t.type = ns_type;
      i = 3;
    } else {
      t.type = FindType(group, version, r[0]);
      i = 1;
    }
    if (i < r.size()) t.name = r[i];
    if (i + 1 < r.size()) t.subresource = r[i + 1];
    if (i + 2 < r.size()) t.type = nullptr;
  }
  if (t.type == nullptr) {
    Reply(out, record, 404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
    return;
  }
  const ResourceType& type = *t.type;
  if (req.method == "GET") {
    t.verb = !t.name.empty() ? "get" : (IsTrue(req.Query("watch")) ? "watch" : "list");
  } else if (req.method == "POST") {
    t.verb = "create";
  } else if (req.method == "PUT") {
    t.verb = "update";
  } else if (req.method == "PATCH") {
    t.verb = "patch";
  } else if (req.method == "DELETE") {
    t.verb = t.name.empty() ? "deletecollection" : "delete";
  }
  record.verb = t.verb;
  record.resource = type.plural;
  record.subresource = t.subresource;
  record.namespace_name = t.namespace_name;
  record.name = t.name;
  if (t.verb.empty()) {
    ReplyError(out, record, {405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nullptr, {}});
    return;
  }
  if (!t.subresource.empty() && !(t.subresource == "status" && type.has_status)) {
    Reply(out, record, 404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
    return;
  }
  if (!t.subresource.empty() && t.verb != "get" && t.verb != "update" && t.verb != "patch") {
    ReplyError(out, record, {405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nullptr, {}});
    return;
  }
  if (type.namespaced && t.namespace_name.empty() && t.verb != "list" && t.verb != "watch") {
    Reply(out, record, 404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
    return;
  }
  // Fault: 429 for matching requests.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = too_many_requests_.begin(); it != too_many_requests_.end(); ++it) {
      if ((it->verb.empty() || it->verb == t.verb) && (it->resource.empty() || it->resource == type.plural)) {
        int retry = it->retry_after_seconds;
        if (--it->count <= 0) too_many_requests_.erase(it);
        ApiError e{429, "TooManyRequests", "Too many requests, please try again later.",
                   json{{"retryAfterSeconds", retry}}, {{"Retry-After", std::to_string(retry)}}};
        ReplyError(out, record, e);
        return;
      }
    }
  }
  if (t.verb == "watch") {
    HandleWatch(req, out, record, t);
    return;
  }
  bool want_table = req.Header("accept").find("as=Table") != std::string::npos;
  bool strict = req.Query("fieldValidation") == "Strict";

  json body;
  if (t.verb == "create" || t.verb == "update" || t.verb == "patch" ||
      ((t.verb == "delete" || t.verb == "deletecollection") && !req.body.empty())) {
    try {
      body = req.body.empty() ? json() : json::parse(req.body);
    } catch (const json::exception& e) {
      ReplyError(out, record, BadRequest(std::string("the body of the request was in an unknown format: ") + e.what()));
      return;
    }
    if (t.verb != "patch" && !body.is_null() && !body.is_object()) {
      ReplyError(out, record, BadRequest("the body of the request must be a JSON object"));
      return;
    }
  }

  std::unique_lock<std::mutex> lock(mu_);
  auto fail = [&](const ApiError& e) {
    lock.unlock();
    ReplyError(out, record, e);
  };
  auto reply = [&](int code, const json& result) {
    lock.unlock();
    Reply(out, record, code, result);
  };
  if (!t.type->active) {
    return reply(404, MakeStatus(404, "NotFound", "the server could not find the requested resource", json::object()));
  }
  if (type.namespaced && !t.namespace_name.empty() && t.verb == "create") {
    const ResourceType* ns_type = FindType("", "v1", "namespaces");
    const json* ns = FindObject("/namespaces", "", t.namespace_name);
    if (ns == nullptr) return fail(NotFound(*ns_type, t.namespace_name));
    if (HasDeletionTimestamp(*ns)) {
      return fail({403, "Forbidden",
                   type.GroupResource() + " is forbidden: unable to create new content in namespace " +
                       t.namespace_name + " because it is being terminated",
                   DetailsFor(type, t.name, true), {}});
    }
  }

  // ---- reads ----
  if (t.verb == "get") {
    json* obj = FindObject(type.Key(), t.namespace_name, t.name);
    if (obj == nullptr) {
      return fail(NotFound(type, t.name));
    }
    return reply(200, want_table ? BuildTable(type, {obj}, std::to_string(rv_)) : *obj);
  }
  if (t.verb == "list" || t.verb == "deletecollection") {
    auto labels = LabelSelector::Parse(req.Query("labelSelector"));
    auto fields = FieldSelector::Parse(req.Query("fieldSelector"));
    if (!labels.ok() || !fields.ok()) {
      return fail(BadRequest(!labels.ok() ? labels.status().message() : fields.status().message()));
    }
    Watcher filter;  // reuse the watch matcher
    filter.namespace_name = t.namespace_name;
    filter.labels = *labels;
    filter.fields = *fields;
    int64_t limit = 0;
    if (!req.Query("limit").empty()) limit = std::atoll(req.Query("limit").c_str());
    std::string after;
    if (!req.Query("continue").empty()) after = HexDecode(req.Query("continue"));
    std::vector<const json*> items;
    std::string next;
    int64_t remaining = 0;
    auto tobjs = objects_.find(type.Key());
    if (tobjs != objects_.end()) {
      auto it = after.empty() ? tobjs->second.begin() : tobjs->second.upper_bound(after);
      for (; it != tobjs->second.end(); ++it) {
        if (!WatcherMatches(filter, it->second)) continue;
        if (t.verb == "list" && limit > 0 && static_cast<int64_t>(items.size()) >= limit) {
          if (next.empty()) next = HexEncode(ObjKey(Namespace(*items.back()), Name(*items.back())));
          ++remaining;
          continue;
        }
        items.push_back(&it->second);
      }
    }
    if (t.verb == "deletecollection") {
      std::vector<std::string> names;
      for (const json* o : items) names.push_back(Name(*o));
      std::string propagation = req.Query("propagationPolicy");
      if (body.is_object() && body.contains("propagationPolicy")) propagation = body["propagationPolicy"];
      for (const auto& name : names) {
        json* obj = FindObject(type.Key(), t.namespace_name, name);
        if (obj != nullptr) DeleteObjectLocked(type, *obj, propagation);
      }
      RunGarbageCollection();
      return reply(200,
            json{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Success"}});
    }
    std::string rv = std::to_string(rv_);
    json result;
    if (want_table) {
      result = BuildTable(type, items, rv);
      if (!next.empty()) result["metadata"]["continue"] = next;
    } else {
      result = {{"kind", type.list_kind}, {"apiVersion", type.ApiVersion()}, {"metadata", {{"resourceVersion", rv}}}};
      if (!next.empty()) {
        result["metadata"]["continue"] = next;
        result["metadata"]["remainingItemCount"] = remaining;
      } else if (type.custom) {
        result["metadata"]["continue"] = "";
      }
      json arr = json::array();
      for (const json* o : items) {
        arr.push_back(*o);
        // Built-in lists carry no apiVersion/kind on their items, like the real server.
        if (!type.custom) {
          arr.back().erase("apiVersion");
          arr.back().erase("kind");
        }
      }
      result["items"] = std::move(arr);
    }
    return reply(200, result);
  }

  // ---- create ----
  if (t.verb == "create") {
    if (!body.is_object()) {
      return fail(BadRequest("the body of the request must be a JSON object"));
    }
    json obj = body;
    if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
    json& meta = obj["metadata"];
    if (type.namespaced) {
      std::string body_ns = meta.value("namespace", "");
      if (!body_ns.empty() && body_ns != t.namespace_name) {
        return fail(BadRequest("the namespace of the provided object does not match the namespace sent on the request"));
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
    if (auto err = AdmitObject(type, obj, nullptr, name, std::move(causes), strict)) {
      return fail(*err);
    }
    if (FindObject(type.Key(), t.namespace_name, name) != nullptr) {
      return fail(AlreadyExists(type, name));
    }
    meta["uid"] = NewUid();
    meta["creationTimestamp"] = NowRfc3339();
    if (type.custom || type.plural == "customresourcedefinitions") meta["generation"] = 1;
    if (type.plural == "customresourcedefinitions") {
      ResourceType crd_type;
      CrdToType(obj, &crd_type);
      // Created first without conditions, then Established by a second (status) write, as
      // the real apiextensions controllers do: clients that wait for Established see it change.
      EstablishCrd(obj);
      obj["status"] = {{"conditions", nullptr},
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
    Commit(type, "ADDED", obj, nullptr);
    if (type.plural == "customresourcedefinitions") {
      json established = obj;
      EstablishCrd(established);
      Commit(type, "MODIFIED", established, &obj);
    }
    return reply(201, obj);
  }

  // ---- update / patch ----
  if (t.verb == "update" || t.verb == "patch") {
    json* stored = FindObject(type.Key(), t.namespace_name, t.name);
    if (stored == nullptr) {
      return fail(NotFound(type, t.name));
    }
    const json existing = *stored;
    json incoming;
    if (t.verb == "update") {
      incoming = body;
      std::string body_name = incoming.contains("metadata") ? incoming["metadata"].value("name", "") : "";
      if (!body_name.empty() && body_name != t.name) {
        return fail(BadRequest("the name of the object (" + body_name +
                                           ") does not match the name on the URL (" + t.name + ")"));
      }
    } else {
      std::string ct = req.Header("content-type");
      ct = ct.substr(0, ct.find(';'));
      try {
        if (ct == "application/merge-patch+json") {
          incoming = existing;
          incoming.merge_patch(body);
        } else if (ct == "application/json-patch+json") {
          incoming = existing.patch(body);
        } else if (ct == "application/strategic-merge-patch+json" && !type.custom) {
          incoming = StrategicMerge(existing, body, "");
        } else {
          return fail({415, "UnsupportedMediaType",
                                   "the body of the request was in an unknown format - accepted media types include: "
                                   "application/json-patch+json, application/merge-patch+json" +
                                       std::string(type.custom ? "" : ", application/strategic-merge-patch+json"),
                                   nullptr, {}});
        }
      } catch (const json::exception& e) {
        return fail({422, "Invalid", std::string("the server rejected our request due to an error in our request: ") + e.what(), nullptr, {}});
      }
      if (!incoming.is_object()) {
        return fail(BadRequest("patch produced a non-object"));
      }
    }
    if (!incoming.contains("metadata") || !incoming["metadata"].is_object()) incoming["metadata"] = json::object();
    std::string want_rv = incoming["metadata"].value("resourceVersion", "");
    if (!want_rv.empty() && want_rv != existing["metadata"].value("resourceVersion", "")) {
      return fail(ConflictError(type, t.name,
                                 "the object has been modified; please apply your changes to the latest version and try again"));
    }
    for (auto it = conflicts_.begin(); it != conflicts_.end(); ++it) {
      bool sub_ok = it->subresource.empty() || (it->subresource == "main" && t.subresource.empty()) ||
                    it->subresource == t.subresource;
      if (sub_ok && (it->resource.empty() || it->resource == type.plural)) {
        if (--it->count <= 0) conflicts_.erase(it);
        return fail(ConflictError(type, t.name,
                                   "the object has been modified; please apply your changes to the latest version and try again"));
      }
    }
    json updated;
    if (t.subresource == "status") {
      updated = existing;
      if (incoming.contains("status")) {
        updated["status"] = incoming["status"];
      } else {
        updated.erase("status");
      }
    } else {
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
    }
    updated["apiVersion"] = type.ApiVersion();
    updated["kind"] = type.kind;
    updated["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"];
    if (auto err = AdmitObject(type, updated, &existing, t.name, {}, strict)) {
      return fail(*err);
    }
    if (existing["metadata"].contains("generation")) {
      bool ignore_status = type.has_status || type.plural == "customresourcedefinitions";
      if (SpecPart(existing, ignore_status) != SpecPart(updated, ignore_status)) {
        updated["metadata"]["generation"] = existing["metadata"]["generation"].get<int64_t>() + 1;
      }
    }
    if (updated == existing) {
      return reply(200, existing);
    }
    if (type.plural == "customresourcedefinitions") {
      ResourceType crd_type;
      CrdToType(updated, &crd_type);
      for (auto& existing_type : types_) {
        if (existing_type.active && existing_type.custom && existing_type.crd_name == t.name) {
          existing_type.printer_columns = crd_type.printer_columns;
          existing_type.schema = crd_type.schema;
          existing_type.short_names = crd_type.short_names;
          existing_type.categories = crd_type.categories;
          existing_type.has_status = crd_type.has_status;
        }
      }
      ++openapi_generation_;
    }
    Commit(type, "MODIFIED", updated, &existing);
    // Removing the last finalizer of an object being deleted deletes it.
    if (HasDeletionTimestamp(updated) && Finalizers(updated).empty()) {
      json* now_stored = FindObject(type.Key(), t.namespace_name, t.name);
      if (now_stored != nullptr) DeleteObjectLocked(type, *now_stored, "Background");
      RunGarbageCollection();
    }
    return reply(200, updated);
  }

  // ---- delete ----
  json* stored = FindObject(type.Key(), t.namespace_name, t.name);
  if (stored == nullptr) {
    return fail(NotFound(type, t.name));
  }
  std::string propagation = req.Query("propagationPolicy");
  if (body.is_object()) {
    if (body.contains("propagationPolicy") && body["propagationPolicy"].is_string()) {
      propagation = body["propagationPolicy"];
    } else if (body.contains("orphanDependents") && body["orphanDependents"].is_boolean() &&
               body["orphanDependents"].get<bool>()) {
      propagation = "Orphan";
    }
    if (body.contains("preconditions") && body["preconditions"].is_object()) {
      const json& pre = body["preconditions"];
      std::string uid = pre.value("uid", "");
      std::string rv = pre.value("resourceVersion", "");
      std::string why;
      if (!uid.empty() && uid != Uid(*stored)) {
        why = "Precondition failed: UID in precondition: " + uid + ", UID in object meta: " + Uid(*stored);
      } else if (!rv.empty() && rv != (*stored)["metadata"].value("resourceVersion", "")) {
        why = "Precondition failed: ResourceVersion in precondition: " + rv +
              ", ResourceVersion in object meta: " + (*stored)["metadata"].value("resourceVersion", "");
      }
      if (!why.empty()) {
        return fail(ConflictError(type, t.name, why));
      }
    }
  }
  if (!propagation.empty() && propagation != "Orphan" && propagation != "Background" && propagation != "Foreground") {
    return fail({422, "Invalid", "propagationPolicy: Unsupported value: \"" + propagation + "\"", nullptr, {}});
  }
  std::optional<int64_t> grace_seconds;
  if (std::string q = req.Query("gracePeriodSeconds"); !q.empty()) grace_seconds = std::atoll(q.c_str());
  if (body.is_object() && body.contains("gracePeriodSeconds") && body["gracePeriodSeconds"].is_number_integer()) {
    grace_seconds = body["gracePeriodSeconds"].get<int64_t>();
  }
  std::string uid = Uid(*stored);
  DeleteObjectLocked(type, *stored, propagation, grace_seconds);
  json result;
  json* still = FindObject(type.Key(), t.namespace_name, t.name);
  if (still != nullptr) {
    result = *still;  // kept by finalizers: the object with deletionTimestamp
  }
  RunGarbageCollection();
  if (still == nullptr) {
    if (type.custom) {
      json details = DetailsFor(type, t.name, true);
      details["uid"] = uid;
      result = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                {"status", "Success"}, {"details", details}};
    } else {
      // Built-ins answer with the object as it was deleted.
      const HistoryEvent* last = nullptr;
      for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
        if (it->type == "DELETED" && Uid(*it->object) == uid) {
          last = &*it;
          break;
        }
      }
      result = last ? *last->object : json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Success"}};
    }
  }
  reply(200, result);
}

void TestApiServer::Impl::HandleWatch(const HttpRequest& req, HttpResponseWriter& out, RequestRecord& record,
                                      const RequestTarget& t) {
  const ResourceType& type = *t.type;
  auto labels = LabelSelector::Parse(req.Query("labelSelector"));
  auto fields = FieldSelector::Parse(req.Query("fieldSelector"));
  if (!labels.ok() || !fields.ok()) {
    ReplyError(out, record, BadRequest(!labels.ok() ? labels.status().message() : fields.status().message()));
    return;
  }
  bool bookmarks = IsTrue(req.Query("allowWatchBookmarks"));
  auto deadline = std::chrono::steady_clock::time_point::max();
  if (!req.Query("timeoutSeconds").empty()) {
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoll(req.Query("timeoutSeconds").c_str()));
  }
  std::string rv_param = req.Query("resourceVersion");
  uint64_t from_rv = 0;
  if (!rv_param.empty()) {
    char* end = nullptr;
    from_rv = std::strtoull(rv_param.c_str(), &end, 10);
    if (end == nullptr || *end != '\0') {
      ReplyError(out, record, BadRequest("invalid resource version: " + rv_param));
      return;
    }
  }
  auto watcher = std::make_shared<Watcher>();
  watcher->type_key = type.Key();
  watcher->namespace_name = t.namespace_name;
  watcher->labels = *labels;
  watcher->fields = *fields;
  std::vector<std::string> initial;
  std::string error_line;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (expire_next_watches_ > 0) {
      --expire_next_watches_;
      error_line = EventLine("ERROR", MakeStatus(410, "Expired", "too old resource version: " + rv_param + " (" +
                                                                     std::to_string(compacted_rv_) + ")")
                                          .dump());
    } else if (from_rv == 0) {
      auto tobjs = objects_.find(type.Key());
      if (tobjs != objects_.end()) {
        for (auto& [key, obj] : tobjs->second) {
          if (WatcherMatches(*watcher, obj)) initial.push_back(EventLine("ADDED", obj.dump()));
        }
      }
    } else if (from_rv < compacted_rv_) {
      error_line = EventLine("ERROR", MakeStatus(410, "Expired", "too old resource version: " + rv_param + " (" +
                                                                     std::to_string(compacted_rv_) + ")")
                                          .dump());
    } else {
      for (const HistoryEvent& ev : history_) {
        if (ev.rv <= from_rv || ev.type_key != type.Key()) continue;
        std::string et = EventTypeFor(*watcher, ev);
        if (!et.empty()) initial.push_back(EventLine(et, ev.object->dump()));
      }
    }
    if (error_line.empty()) watchers_.push_back(watcher);
  }
  record.status = 200;
  LogRequest(record);
  out.BeginChunked(200, "application/json");
  if (!error_line.empty()) {
    out.WriteChunk(error_line);
    out.EndChunked();
    return;
  }
  // kubectl get -w asks for Tables: each event's object becomes a one-row Table.
  const bool as_table = req.Header("accept").find("as=Table") != std::string::npos;
  auto send = [&](const std::string& line) {
    if (!as_table) return out.WriteChunk(line);
    json ev = json::parse(line, nullptr, false);
    std::string ev_type = ev.is_object() ? ev.value("type", "") : "";
    if (ev_type == "ADDED" || ev_type == "MODIFIED" || ev_type == "DELETED") {
      std::lock_guard<std::mutex> lock(mu_);
      ev["object"] = BuildTable(type, {&ev["object"]}, ev["object"]["metadata"].value("resourceVersion", ""));
    }
    return out.WriteChunk(ev.dump() + "\n");
  };
  bool ok = true;
  for (const auto& line : initial) {
    if (!(ok = send(line))) break;
  }
  auto interval = options_.bookmark_interval;
  auto next_bookmark = std::chrono::steady_clock::now() + interval;
  bool aborted = false;
  while (ok) {
    std::vector<std::string> lines;
    bool closed = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(200));
      if (bookmarks) wake = std::min(wake, next_bookmark);
      watcher->cv.wait_until(lock, wake, [&] { return !watcher->lines.empty() || watcher->closed; });
      lines.assign(watcher->lines.begin(), watcher->lines.end());
      watcher->lines.clear();
      closed = watcher->closed;
      aborted = watcher->abort;
      auto now = std::chrono::steady_clock::now();
      if (bookmarks && now >= next_bookmark && !closed) {
        json bm = {{"type", "BOOKMARK"},
                   {"object", {{"kind", type.kind}, {"apiVersion", type.ApiVersion()},
                               {"metadata", {{"resourceVersion", std::to_string(rv_)}}}}}};
        lines.push_back(bm.dump() + "\n");
        next_bookmark = now + interval;
      }
    }
    if (aborted) break;
    for (const auto& line : lines) {
      if (!(ok = send(line))) break;
    }
    if (closed || std::chrono::steady_clock::now() >= deadline || out.PeerClosed()) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    watchers_.remove(watcher);
  }
  if (ok && !aborted) out.EndChunked();
}

// ---------------------------------------------------------------------------------------
// Control endpoints and faults

void TestApiServer::Impl::HandleControl(const HttpRequest& req, HttpResponseWriter& out) {
  auto reply = [&](int code, const json& body) { out.Send(code, "application/json", body.dump()); };
  if (req.path == "/testing/requests" && req.method == "GET") {
    uint64_t since = std::strtoull(req.Query("since").c_str(), nullptr, 10);
    json arr = json::array();
    json counts = json::object();
    {
      std::lock_guard<std::mutex> lock(log_mu_);
      for (const auto& r : log_) {
        if (r.seq <= since) continue;
        arr.push_back({{"seq", r.seq}, {"method", r.method}, {"verb", r.verb}, {"path", r.path},
                       {"query", r.query}, {"resource", r.resource}, {"subresource", r.subresource},
                       {"namespace", r.namespace_name}, {"name", r.name}, {"contentType", r.content_type},
                       {"status", r.status}});
        if (!r.verb.empty()) {
          std::string key = r.verb + " " + r.resource + (r.subresource.empty() ? "" : "/" + r.subresource);
          counts[key] = counts.value(key, 0) + 1;
        }
      }
    }
    reply(200, {{"total", arr.size()}, {"counts", counts}, {"requests", arr}});
    return;
  }
  if (req.path == "/testing/requests" && req.method == "DELETE") {
    std::lock_guard<std::mutex> lock(log_mu_);
    log_.clear();
    reply(200, {{"cleared", true}});
    return;
  }
  json body;
  try {
    body = req.body.empty() ? json::object() : json::parse(req.body);
  } catch (const json::exception& e) {
    reply(400, {{"error", std::string("bad JSON: ") + e.what()}});
    return;
  }
  if (req.path == "/testing/faults" && req.method == "POST") {
    static const std::set<std::string> kKeys = {"clear", "expireNextWatches", "tooManyRequests", "conflictNextUpdates",
                                                "delayMs", "dropWatches", "restart"};
    if (!body.is_object()) {
      reply(400, {{"error", "want a JSON object"}});
      return;
    }
    for (auto it = body.begin(); it != body.end(); ++it) {
      if (!kKeys.count(it.key())) {
        reply(400, {{"error", "unknown fault \"" + it.key() + "\""}});
        return;
      }
    }
    bool restart = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (body.value("clear", false)) {
        expire_next_watches_ = 0;
        too_many_requests_.clear();
        conflicts_.clear();
        response_delay_ms_ = 0;
      }
      if (body.contains("expireNextWatches")) expire_next_watches_ += body["expireNextWatches"].get<int>();
      if (body.contains("tooManyRequests")) {
        const json& f = body["tooManyRequests"];
        too_many_requests_.push_back({f.value("count", 1), f.value("retryAfterSeconds", 1), f.value("verb", ""),
                                      f.value("resource", "")});
      }
      if (body.contains("conflictNextUpdates")) {
        const json& f = body["conflictNextUpdates"];
        conflicts_.push_back({f.value("count", 1), f.value("resource", ""), f.value("subresource", "")});
      }
      if (body.contains("delayMs")) response_delay_ms_ = body["delayMs"].get<int64_t>();
      if (body.value("dropWatches", false)) {
        for (auto& w : watchers_) {
          w->closed = true;
          w->cv.notify_all();
        }
      }
      restart = body.value("restart", false);
    }
    if (restart) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& w : watchers_) {
        w->closed = true;
        w->abort = true;
        w->cv.notify_all();
      }
    }
    reply(200, {{"ok", true}});
    // The control connection itself goes down with the others, after its answer.
    if (restart) http_->CloseAllConnections();
    return;
  }
  if (req.path == "/testing/kill-node" && req.method == "POST") {
    Status killed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      killed = KillNodeLocked(body.value("name", ""));
    }
    if (!killed.ok()) {
      reply(404, MakeStatus(404, "NotFound", killed.message()));
      return;
    }
    reply(200, {{"ok", true}});
    return;
  }
  if (req.path == "/testing/evict" && req.method == "POST") {
    std::string ns = body.value("namespace", "default");
    std::string name = body.value("name", "");
    std::unique_lock<std::mutex> lock(mu_);
    json* pod = FindObject("/pods", ns, name);
    if (pod == nullptr) {
      lock.unlock();
      reply(404, MakeStatus(404, "NotFound", "pods \"" + name + "\" not found"));
      return;
    }
    json updated = *pod;
    json old = *pod;
    MarkPodFinished(updated, false, 137, "Evicted",
                    body.value("message", std::string("The node was low on resource: memory.")));
    Commit(*FindType("", "v1", "pods"), "MODIFIED", updated, &old);
    lock.unlock();
    reply(200, updated);
    return;
  }
  reply(404, {{"error", "unknown control endpoint " + req.method + " " + req.path}});
}

// ---------------------------------------------------------------------------------------
// Public API

TestApiServer::TestApiServer(TestApiServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
TestApiServer::~TestApiServer() { Stop(); }

Status TestApiServer::Start() {
  RETURN_IF_ERROR(impl_->Start());
  if (!impl_->options_.kubeconfig_out.empty()) RETURN_IF_ERROR(WriteKubeconfig(impl_->options_.kubeconfig_out));
  return Status::Ok();
}

void TestApiServer::Stop() { impl_->Stop(); }
int TestApiServer::port() const { return impl_->http_ ? impl_->http_->port() : 0; }
std::string TestApiServer::url() const {
  return (impl_->options_.tls_cert_file.empty() ? "http://" : "https://") + impl_->options_.listen_host + ":" +
         std::to_string(port());
}
const std::string& TestApiServer::kubeconfig_path() const { return impl_->kubeconfig_path_; }

Status TestApiServer::WriteKubeconfig(const std::string& path) const {
  const TestApiServerOptions& options = impl_->options_;
  std::string ca_line;
  if (!options.tls_cert_file.empty()) {
    std::ifstream cert_in(options.tls_cert_file, std::ios::binary);
    std::stringstream cert;
    cert << cert_in.rdbuf();
    if (!cert_in.is_open()) return UnavailableError("cannot read --tls-cert " + options.tls_cert_file + " for the kubeconfig");
    std::string pem = cert.str();
    std::string base64(4 * ((pem.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()),
                            reinterpret_cast<const unsigned char*>(pem.data()), static_cast<int>(pem.size()));
    base64.resize(static_cast<size_t>(n));
    ca_line = "\n    certificate-authority-data: " + base64;
  }
  // A JSON string is a YAML double-quoted scalar: any token survives. The default stays bare.
  std::string token = options.token.empty() ? "ringleader-test-token" : json(options.token).dump();
  std::ofstream out(path);
  if (!out) return UnavailableError("cannot write kubeconfig " + path);
  out << "apiVersion: v1\nkind: Config\nclusters:\n- name: ringleader-test\n  cluster:\n    server: " << url()
      << ca_line
      << "\ncontexts:\n- name: ringleader-test\n  context:\n    cluster: ringleader-test\n"
         "    user: ringleader-test\n    namespace: default\ncurrent-context: ringleader-test\n"
         "users:\n- name: ringleader-test\n  user:\n    token: "
      << token << "\npreferences: {}\n";
  out.close();
  if (!out) return UnavailableError("cannot write kubeconfig " + path);
  impl_->kubeconfig_path_ = path;
  return Status::Ok();
}

Status TestApiServer::AddCrdsFromYaml(const std::string& yaml_text) { return impl_->AddCrdsFromYaml(yaml_text); }

void TestApiServer::DropAllWatches() {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  for (auto& w : impl_->watchers_) {
    w->closed = true;
    w->cv.notify_all();
  }
}

void TestApiServer::ExpireNextWatches(int count) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->expire_next_watches_ += count;
}

void TestApiServer::FailNextRequests(const TooManyRequestsFault& fault) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->too_many_requests_.push_back(fault);
}

void TestApiServer::ConflictNextUpdates(const ConflictFault& fault) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->conflicts_.push_back(fault);
}

void TestApiServer::SetResponseDelay(std::chrono::milliseconds delay) { impl_->response_delay_ms_ = delay.count(); }

void TestApiServer::Restart() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    for (auto& w : impl_->watchers_) {
      w->closed = true;
      w->abort = true;
      w->cv.notify_all();
    }
  }
  if (impl_->http_) impl_->http_->CloseAllConnections();
}

void TestApiServer::ClearFaults() {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  impl_->expire_next_watches_ = 0;
  impl_->too_many_requests_.clear();
  impl_->conflicts_.clear();
  impl_->response_delay_ms_ = 0;
}

Status TestApiServer::KillNode(const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->KillNodeLocked(name);
}

Status TestApiServer::EvictPod(const std::string& namespace_name, const std::string& name, const std::string& message) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  json* pod = impl_->FindObject("/pods", namespace_name, name);
  if (pod == nullptr) return NotFoundError("pod " + namespace_name + "/" + name + " not found");
  json updated = *pod;
  json old = *pod;
  impl_->MarkPodFinished(updated, false, 137, "Evicted", message);
  impl_->Commit(*impl_->FindType("", "v1", "pods"), "MODIFIED", updated, &old);
  return Status::Ok();
}

std::vector<RequestRecord> TestApiServer::Requests() const {
  std::lock_guard<std::mutex> lock(impl_->log_mu_);
  return {impl_->log_.begin(), impl_->log_.end()};
}

int TestApiServer::CountRequests(const std::string& verb, const std::string& resource,
                                 const std::string& subresource) const {
  std::lock_guard<std::mutex> lock(impl_->log_mu_);
  int n = 0;
  for (const auto& r : impl_->log_) {
    if (r.verb.empty()) continue;
    if (!verb.empty() && r.verb != verb) continue;
    if (!resource.empty() && r.resource != resource) continue;
    if (subresource != "*" && r.subresource != subresource) continue;
    ++n;
  }
  return n;
}

void TestApiServer::ClearRequests() {
  std::lock_guard<std::mutex> lock(impl_->log_mu_);
  impl_->log_.clear();
}

uint64_t TestApiServer::current_resource_version() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->rv_;
}

StatusOr<std::string> TestApiServer::GetObjectJson(const std::string& group, const std::string& resource,
                                                   const std::string& namespace_name, const std::string& name) const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  json* obj = impl_->FindObject(group + "/" + resource, namespace_name, name);
  if (obj == nullptr) return NotFoundError(resource + " " + namespace_name + "/" + name + " not found");
  return obj->dump();
}

size_t TestApiServer::CountObjects(const std::string& group, const std::string& resource) const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  auto it = impl_->objects_.find(group + "/" + resource);
  return it == impl_->objects_.end() ? 0 : it->second.size();
}

size_t TestApiServer::open_watches() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->watchers_.size();
}

}  // namespace ringleader::testapi
