#include "ringleader/kube/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

namespace ringleader::kube {
namespace fs = std::filesystem;

namespace {

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Trim(std::string s) {
  size_t end = s.find_last_not_of(" \t\r\n");
  s.erase(end == std::string::npos ? 0 : end + 1);
  size_t begin = s.find_first_not_of(" \t\r\n");
  return begin == std::string::npos ? "" : s.substr(begin);
}

StatusOr<std::string> Base64Decode(const std::string& field, const std::string& text) {
  std::string clean;
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') clean += c;
  }
  if (clean.size() % 4 != 0) return InvalidArgumentError(field + ": invalid base64 length");
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return InvalidArgumentError(field + ": invalid base64");
  // EVP_DecodeBlock counts padding bytes as output: drop them.
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string Str(const YAML::Node& node, const char* key) {
  if (!node || !node.IsMap()) return "";
  YAML::Node v = node[key];
  if (!v || !v.IsScalar()) return "";
  return v.as<std::string>();
}

bool Bool(const YAML::Node& node, const char* key) {
  if (!node || !node.IsMap()) return false;
  YAML::Node v = node[key];
  if (!v || !v.IsScalar()) return false;
  try {
    return v.as<bool>();
  } catch (const YAML::Exception&) {
    return false;
  }
}

// Finds `name` in a kubeconfig list (clusters/users/contexts) and returns its inner map.
YAML::Node FindNamed(const YAML::Node& list, const char* inner, const std::string& name) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& entry : list) {
    if (Str(entry, "name") == name) return entry[inner];
  }
  return YAML::Node();
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || base_dir.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base_dir) / path).string();
}

}  // namespace

std::shared_ptr<TokenSource> TokenSource::Static(std::string token) {
  std::shared_ptr<TokenSource> source(new TokenSource());
  source->token_ = std::move(token);
  source->stale_ = false;
  return source;
}

std::shared_ptr<TokenSource> TokenSource::FromFile(std::string path,
                                                   std::chrono::seconds refresh_interval) {
  std::shared_ptr<TokenSource> source(new TokenSource());
  source->path_ = std::move(path);
  source->refresh_interval_ = refresh_interval;
  return source;
}

std::string TokenSource::Token() {
  std::lock_guard<std::mutex> lock(mu_);
  if (path_.empty()) return token_;
  auto now = std::chrono::steady_clock::now();
  if (stale_ || now - read_at_ >= refresh_interval_) {
    StatusOr<std::string> text = ReadFile(path_);
    if (text.ok()) {
      token_ = Trim(*text);
      read_at_ = now;
      stale_ = false;
    } else {
      // Keep the previous token: a rotation in progress may briefly remove the file.
      spdlog::warn("msg=\"cannot read token file\" path={} error=\"{}\"", path_,
                   text.status().message());
    }
  }
  return token_;
}

void TokenSource::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  stale_ = true;
}

StatusOr<RestConfig> ParseKubeconfig(const std::string& yaml, const std::string& context,
                                     const std::string& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(std::string("kubeconfig is not valid YAML: ") + e.what());
  }
  if (!root || !root.IsMap()) return InvalidArgumentError("kubeconfig is not a YAML mapping");
  std::string context_name = context.empty() ? Str(root, "current-context") : context;
  if (context_name.empty()) {
    return InvalidArgumentError("kubeconfig has no current-context and none was given");
  }
  YAML::Node ctx = FindNamed(root["contexts"], "context", context_name);
  if (!ctx || !ctx.IsMap()) return NotFoundError("kubeconfig: context \"" + context_name + "\" not found");
  std::string cluster_name = Str(ctx, "cluster");
  std::string user_name = Str(ctx, "user");
  YAML::Node cluster = FindNamed(root["clusters"], "cluster", cluster_name);
  if (!cluster || !cluster.IsMap()) {
    return NotFoundError("kubeconfig: cluster \"" + cluster_name + "\" of context \"" +
                         context_name + "\" not found");
  }
  RestConfig config;
  config.default_namespace = Str(ctx, "namespace");
  config.server = Str(cluster, "server");
  while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
  if (config.server.empty()) {
    return InvalidArgumentError("kubeconfig: cluster \"" + cluster_name + "\" has no server");
  }
  config.insecure_skip_tls_verify = Bool(cluster, "insecure-skip-tls-verify");
  config.tls_server_name = Str(cluster, "tls-server-name");
  config.certificate_authority_file = Resolve(base_dir, Str(cluster, "certificate-authority"));
  if (std::string data = Str(cluster, "certificate-authority-data"); !data.empty()) {
    ASSIGN_OR_RETURN(config.certificate_authority_data,
                     Base64Decode("certificate-authority-data", data));
  }
  if (!user_name.empty()) {
    YAML::Node user = FindNamed(root["users"], "user", user_name);
    if (!user || !user.IsMap()) {
      return NotFoundError("kubeconfig: user \"" + user_name + "\" of context \"" +
                           context_name + "\" not found");
    }
    config.client_certificate_file = Resolve(base_dir, Str(user, "client-certificate"));
    config.client_key_file = Resolve(base_dir, Str(user, "client-key"));
    if (std::string data = Str(user, "client-certificate-data"); !data.empty()) {
      ASSIGN_OR_RETURN(config.client_certificate_data,
                       Base64Decode("client-certificate-data", data));
    }
    if (std::string data = Str(user, "client-key-data"); !data.empty()) {
      ASSIGN_OR_RETURN(config.client_key_data, Base64Decode("client-key-data", data));
    }
    if (std::string token = Str(user, "token"); !token.empty()) {
      config.token = TokenSource::Static(token);
    } else if (std::string file = Str(user, "tokenFile"); !file.empty()) {
      config.token = TokenSource::FromFile(Resolve(base_dir, file));
    }
    config.username = Str(user, "username");
    config.password = Str(user, "password");
    if (user["exec"] || user["auth-provider"]) {
      return Status(StatusCode::kUnimplemented,
                    "kubeconfig: user \"" + user_name + "\" uses exec/auth-provider plugins, "
                    "which ringleader does not support; use a token, tokenFile or client cert");
    }
  }
  bool has_cert = !config.client_certificate_file.empty() || !config.client_certificate_data.empty();
  bool has_key = !config.client_key_file.empty() || !config.client_key_data.empty();
  if (has_cert != has_key) {
    return InvalidArgumentError("kubeconfig: user \"" + user_name +
                                "\" needs both a client certificate and a client key");
  }
  return config;
}

StatusOr<RestConfig> LoadKubeconfig(const KubeconfigOptions& options) {
  std::string path = options.path;
  if (path.empty()) {
    if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
      std::string list = env;
      path = list.substr(0, list.find(':'));  // merging several files is not supported
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      path = std::string(home) + "/.kube/config";
    } else {
      return NotFoundError("no kubeconfig: neither $KUBECONFIG nor $HOME is set");
    }
  }
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return NotFoundError("kubeconfig: " + text.status().message());
  std::string base_dir = fs::path(path).parent_path().string();
  StatusOr<RestConfig> config = ParseKubeconfig(*text, options.context, base_dir);
  if (!config.ok()) {
    return Status(config.status().code(), path + ": " + config.status().message());
  }
  return config;
}

StatusOr<RestConfig> LoadInClusterConfig(const InClusterOptions& options) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return NotFoundError("not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
  }
  RestConfig config;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  config.server = "https://" + h + ":" + port;
  std::string dir = options.service_account_dir;
  std::string token_path = dir + "/token";
  if (!fs::exists(token_path)) {
    return NotFoundError("in-cluster: service-account token " + token_path + " not found");
  }
  config.token = TokenSource::FromFile(token_path, options.token_refresh_interval);
  std::string ca_path = dir + "/ca.crt";
  if (!fs::exists(ca_path)) return NotFoundError("in-cluster: " + ca_path + " not found");
  config.certificate_authority_file = ca_path;
  if (StatusOr<std::string> ns = ReadFile(dir + "/namespace"); ns.ok()) {
    config.default_namespace = Trim(*ns);
  }
  return config;
}

StatusOr<RestConfig> LoadDefaultConfig(const KubeconfigOptions& options) {
  if (options.path.empty() && options.context.empty()) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* kubeconfig = std::getenv("KUBECONFIG");
    if (host && *host && !(kubeconfig && *kubeconfig)) return LoadInClusterConfig();
  }
  return LoadKubeconfig(options);
}

}  // namespace ringleader::kube
