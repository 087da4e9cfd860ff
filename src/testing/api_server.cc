// TestApiServer: construction, start and stop, CRDs loaded from YAML, the type registry and
// object lookups, and the public accessors. The request handlers live by concern in
// api_routing.cc (dispatch), api_read.cc, api_write.cc, api_delete.cc, api_watch.cc,
// api_store.cc (commit and admission), test_hooks.cc (faults, KillNode) and pod_simulator.cc.

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "server_impl.h"

namespace ringleader::testapi {

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
    CloseWatchesLocked(/*abort=*/false);
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

// ---------------------------------------------------------------------------------------
// Public API (the test hooks are in test_hooks.cc)

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
