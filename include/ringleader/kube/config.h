#pragma once
// Where the API server is and how to authenticate to it: from a kubeconfig file
// ($KUBECONFIG, ~/.kube/config, or an explicit path; current-context or a named context) or
// from the in-cluster service account.
//
// Thread-safety: RestConfig is a value type. TokenSource is thread-safe.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ringleader/common/status.h"

namespace ringleader::kube {

// Bearer token that may come from a file which rotates (projected service-account tokens):
// the file is re-read when older than `refresh_interval` or after Invalidate() (a 401).
class TokenSource {
 public:
  static std::shared_ptr<TokenSource> Static(std::string token);
  static std::shared_ptr<TokenSource> FromFile(std::string path,
                                               std::chrono::seconds refresh_interval =
                                                   std::chrono::seconds(60));

  // The current token ("" when none could be read; the error is logged).
  std::string Token();
  // Forces a re-read on the next Token() (call after a 401).
  void Invalidate();
  const std::string& file_path() const { return path_; }

 private:
  TokenSource() = default;
  std::mutex mu_;
  std::string token_;
  std::string path_;  // empty for static tokens
  std::chrono::seconds refresh_interval_{60};
  std::chrono::steady_clock::time_point read_at_{};
  bool stale_ = true;
};

struct RestConfig {
  std::string server;  // "https://host:port" (no trailing slash)

  // TLS. Data fields hold PEM bytes (decoded from the kubeconfig's base64 *-data fields);
  // file fields are paths. Data wins over files when both are set.
  std::string certificate_authority_file;
  std::string certificate_authority_data;
  std::string client_certificate_file;
  std::string client_certificate_data;
  std::string client_key_file;
  std::string client_key_data;
  bool insecure_skip_tls_verify = false;  // only ever true when the kubeconfig says so
  std::string tls_server_name;

  // Bearer token: a static token or a file (token, tokenFile / in-cluster token).
  std::shared_ptr<TokenSource> token;
  // Basic auth (kubeconfig username/password) — rarely used, supported for completeness.
  std::string username;
  std::string password;

  // Namespace from the context (kubeconfig) or the service account (in-cluster); "" if none.
  std::string default_namespace;

  // Client-side limits (the operator's --qps/--burst).
  double qps = 50;
  int burst = 100;
  std::string user_agent = "ringleader";
};

struct KubeconfigOptions {
  std::string path;     // "" : $KUBECONFIG (first file of the list) or ~/.kube/config
  std::string context;  // "" : current-context
};

// Parses a kubeconfig (yaml-cpp). Relative file paths resolve against the kubeconfig's
// directory. Errors name the missing context/cluster/user or the unreadable file.
StatusOr<RestConfig> LoadKubeconfig(const KubeconfigOptions& options = {});
// Same, from YAML text; `base_dir` resolves relative paths.
StatusOr<RestConfig> ParseKubeconfig(const std::string& yaml, const std::string& context,
                                     const std::string& base_dir);

struct InClusterOptions {
  // Overridable for tests.
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::chrono::seconds token_refresh_interval{60};
};
// KUBERNETES_SERVICE_HOST/PORT + service-account token, ca.crt and namespace.
StatusOr<RestConfig> LoadInClusterConfig(const InClusterOptions& options = {});

// The operator's rule (as controller-runtime): an explicit kubeconfig path or context, or
// $KUBECONFIG → LoadKubeconfig; otherwise in-cluster when KUBERNETES_SERVICE_HOST is set;
// otherwise ~/.kube/config.
StatusOr<RestConfig> LoadDefaultConfig(const KubeconfigOptions& options = {});

}  // namespace ringleader::kube
