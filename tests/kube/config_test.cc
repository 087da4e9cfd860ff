#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "ringleader/kube/config.h"
#include "ringleader/kube/http_client.h"

namespace ringleader::kube {
namespace {
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rl-kubeconfig-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& content) const {
    fs::path p = path_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// "hello-ca" / "hello-cert" / "hello-key" in base64.
constexpr char kCaB64[] = "aGVsbG8tY2E=";
constexpr char kCertB64[] = "aGVsbG8tY2VydA==";
constexpr char kKeyB64[] = "aGVsbG8ta2V5";

std::string Kubeconfig(const std::string& users, const std::string& cluster_extra = "") {
  return R"(apiVersion: v1
kind: Config
current-context: main
clusters:
- name: c1
  cluster:
    server: https://10.0.0.1:6443/
)" + cluster_extra + R"(
- name: c2
  cluster:
    server: http://127.0.0.1:8080
    insecure-skip-tls-verify: true
contexts:
- name: main
  context:
    cluster: c1
    user: u1
    namespace: team-a
- name: other
  context:
    cluster: c2
    user: u2
- name: broken
  context:
    cluster: nope
    user: u1
- name: nouser
  context:
    cluster: c1
    user: ghost
users:
)" + users;
}

TEST(KubeconfigTest, AuthForms) {
  TempDir dir;
  dir.Write("tok", "file-token\n");
  struct Case {
    std::string name;
    std::string users;
    std::string context;
    std::function<void(const RestConfig&)> check;
  };
  const std::string base = dir.path();
  std::vector<Case> cases = {
      {"static token",
       "- name: u1\n  user:\n    token: abc123\n", "",
       [](const RestConfig& c) {
         ASSERT_TRUE(c.token);
         EXPECT_EQ(c.token->Token(), "abc123");
         EXPECT_EQ(c.server, "https://10.0.0.1:6443");
         EXPECT_EQ(c.default_namespace, "team-a");
         EXPECT_FALSE(c.insecure_skip_tls_verify);
       }},
      {"token file relative to the kubeconfig",
       "- name: u1\n  user:\n    tokenFile: tok\n", "",
       [base](const RestConfig& c) {
         ASSERT_TRUE(c.token);
         EXPECT_EQ(c.token->file_path(), base + "/tok");
         EXPECT_EQ(c.token->Token(), "file-token");
       }},
      {"client cert and key files",
       "- name: u1\n  user:\n    client-certificate: certs/client.crt\n    client-key: /abs/client.key\n",
       "",
       [base](const RestConfig& c) {
         EXPECT_EQ(c.client_certificate_file, base + "/certs/client.crt");
         EXPECT_EQ(c.client_key_file, "/abs/client.key");
         EXPECT_FALSE(c.token);
       }},
      {"client cert and key data",
       std::string("- name: u1\n  user:\n    client-certificate-data: ") + kCertB64 +
           "\n    client-key-data: " + kKeyB64 + "\n",
       "",
       [](const RestConfig& c) {
         EXPECT_EQ(c.client_certificate_data, "hello-cert");
         EXPECT_EQ(c.client_key_data, "hello-key");
       }},
      {"basic auth",
       "- name: u1\n  user:\n    username: admin\n    password: secret\n", "",
       [](const RestConfig& c) {
         EXPECT_EQ(c.username, "admin");
         EXPECT_EQ(c.password, "secret");
       }},
      {"named context with insecure cluster",
       "- name: u1\n  user:\n    token: a\n- name: u2\n  user:\n    token: b\n", "other",
       [](const RestConfig& c) {
         EXPECT_EQ(c.server, "http://127.0.0.1:8080");
         EXPECT_TRUE(c.insecure_skip_tls_verify);
         EXPECT_EQ(c.token->Token(), "b");
         EXPECT_EQ(c.default_namespace, "");
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    StatusOr<RestConfig> config = ParseKubeconfig(Kubeconfig(c.users), c.context, base);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    c.check(*config);
  }
}

TEST(KubeconfigTest, CertificateAuthorityFileAndData) {
  TempDir dir;
  StatusOr<RestConfig> with_data = ParseKubeconfig(
      Kubeconfig("- name: u1\n  user:\n    token: t\n",
                 std::string("    certificate-authority-data: ") + kCaB64 + "\n"),
      "", dir.path());
  ASSERT_TRUE(with_data.ok()) << with_data.status().ToString();
  EXPECT_EQ(with_data->certificate_authority_data, "hello-ca");
  StatusOr<RestConfig> with_file = ParseKubeconfig(
      Kubeconfig("- name: u1\n  user:\n    token: t\n", "    certificate-authority: ca.pem\n"),
      "", dir.path());
  ASSERT_TRUE(with_file.ok());
  EXPECT_EQ(with_file->certificate_authority_file, dir.path() + "/ca.pem");
  EXPECT_FALSE(with_file->insecure_skip_tls_verify);
}

TEST(KubeconfigTest, Errors) {
  struct Case {
    std::string name;
    std::string yaml;
    std::string context;
    StatusCode code;
    std::string mentions;
  };
  const std::string users = "- name: u1\n  user:\n    token: t\n";
  const std::vector<Case> cases = {
      {"unknown context", Kubeconfig(users), "missing", StatusCode::kNotFound, "missing"},
      {"unknown cluster", Kubeconfig(users), "broken", StatusCode::kNotFound, "nope"},
      {"unknown user", Kubeconfig(users), "nouser", StatusCode::kNotFound, "ghost"},
      {"cert without key", Kubeconfig("- name: u1\n  user:\n    client-certificate: c.crt\n"), "",
       StatusCode::kInvalidArgument, "client key"},
      {"bad base64", Kubeconfig("- name: u1\n  user:\n    client-certificate-data: '!!!'\n    client-key-data: '!!!'\n"),
       "", StatusCode::kInvalidArgument, "client-certificate-data"},
      {"exec plugin", Kubeconfig("- name: u1\n  user:\n    exec:\n      command: aws\n"), "",
       StatusCode::kUnimplemented, "exec"},
      {"not yaml", "{{{", "", StatusCode::kInvalidArgument, "YAML"},
      {"no current context", "apiVersion: v1\nkind: Config\n", "", StatusCode::kInvalidArgument,
       "current-context"},
  };
  for (const auto& c : cases) {
    StatusOr<RestConfig> config = ParseKubeconfig(c.yaml, c.context, "/tmp");
    ASSERT_FALSE(config.ok()) << c.name;
    EXPECT_EQ(config.status().code(), c.code) << c.name << ": " << config.status().ToString();
    EXPECT_NE(config.status().message().find(c.mentions), std::string::npos)
        << c.name << ": " << config.status().message();
  }
}

TEST(KubeconfigTest, LoadsFromKubeconfigEnvAndExplicitPath) {
  TempDir dir;
  std::string path = dir.Write("kc/config", Kubeconfig("- name: u1\n  user:\n    tokenFile: t\n"));
  dir.Write("kc/t", "env-token");
  {
    ScopedEnv env("KUBECONFIG", (path + ":/does/not/exist").c_str());
    StatusOr<RestConfig> config = LoadKubeconfig();
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_EQ(config->token->Token(), "env-token");
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    // $KUBECONFIG wins over in-cluster.
    StatusOr<RestConfig> by_default = LoadDefaultConfig();
    ASSERT_TRUE(by_default.ok());
    EXPECT_EQ(by_default->server, "https://10.0.0.1:6443");
  }
  StatusOr<RestConfig> explicit_path = LoadKubeconfig({path, "other"});
  ASSERT_FALSE(explicit_path.ok());  // context "other" uses user u2, absent here
  EXPECT_NE(explicit_path.status().message().find(path), std::string::npos);
  StatusOr<RestConfig> missing = LoadKubeconfig({dir.path() + "/nope", ""});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(InClusterConfigTest, ReadsServiceAccount) {
  TempDir dir;
  dir.Write("sa/token", "sa-token-1\n");
  dir.Write("sa/ca.crt", "ca");
  dir.Write("sa/namespace", "ringleader-system\n");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  ScopedEnv kubeconfig("KUBECONFIG", nullptr);
  InClusterOptions options;
  options.service_account_dir = dir.path() + "/sa";
  options.token_refresh_interval = std::chrono::seconds(3600);
  StatusOr<RestConfig> config = LoadInClusterConfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->certificate_authority_file, dir.path() + "/sa/ca.crt");
  EXPECT_EQ(config->default_namespace, "ringleader-system");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token->Token(), "sa-token-1");
  // Rotation: not re-read before the interval, re-read after Invalidate (a 401).
  dir.Write("sa/token", "sa-token-2\n");
  EXPECT_EQ(config->token->Token(), "sa-token-1");
  config->token->Invalidate();
  EXPECT_EQ(config->token->Token(), "sa-token-2");
  // A vanished file keeps the last good token.
  fs::remove(dir.path() + "/sa/token");
  config->token->Invalidate();
  EXPECT_EQ(config->token->Token(), "sa-token-2");

  ScopedEnv no_host("KUBERNETES_SERVICE_HOST", nullptr);
  EXPECT_EQ(LoadInClusterConfig(options).status().code(), StatusCode::kNotFound);
}

TEST(InClusterConfigTest, MissingTokenIsAnError) {
  TempDir dir;
  dir.Write("sa/ca.crt", "ca");
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00::1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
  InClusterOptions options;
  options.service_account_dir = dir.path() + "/sa";
  StatusOr<RestConfig> config = LoadInClusterConfig(options);
  EXPECT_EQ(config.status().code(), StatusCode::kNotFound);
  dir.Write("sa/token", "t");
  config = LoadInClusterConfig(options);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
}

TEST(TokenSourceTest, PeriodicRefresh) {
  TempDir dir;
  std::string path = dir.Write("token", "one");
  auto source = TokenSource::FromFile(path, std::chrono::seconds(0));
  EXPECT_EQ(source->Token(), "one");
  dir.Write("token", "two");
  EXPECT_EQ(source->Token(), "two");  // interval 0: re-read every time
  auto fixed = TokenSource::Static("s");
  EXPECT_EQ(fixed->Token(), "s");
  EXPECT_TRUE(fixed->file_path().empty());
}

TEST(HttpClientCreateTest, RejectsUnusableConfig) {
  RestConfig config;
  EXPECT_EQ(HttpClient::Create(config).status().code(), StatusCode::kInvalidArgument);
  config.server = "ftp://x";
  EXPECT_EQ(HttpClient::Create(config).status().code(), StatusCode::kInvalidArgument);
  config.server = "https://127.0.0.1:1";
  config.certificate_authority_file = "/does/not/exist/ca.crt";
  EXPECT_EQ(HttpClient::Create(config).status().code(), StatusCode::kNotFound);
  config.certificate_authority_file.clear();
  EXPECT_TRUE(HttpClient::Create(config).ok());
}

}  // namespace
}  // namespace ringleader::kube
