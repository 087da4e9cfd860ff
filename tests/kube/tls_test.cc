// HttpClient over TLS: CA and client certificates from files and from memory (kubeconfig
// *-data), verification failures, insecure-skip-tls-verify. Certificates are generated at
// test time with the openssl CLI; the server is a minimal OpenSSL HTTP/1.1 responder.

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ringleader/common/metrics.h"
#include "ringleader/kube/http_client.h"

namespace ringleader::kube {
namespace {
namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA;
// plus an unrelated CA.
class Pki {
 public:
  Pki() {
    dir_ = fs::temp_directory_path() / ("rl-pki-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ok_ = Run("openssl version") && MakeCa("ca") && MakeCa("other-ca") &&
          MakeLeaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1") &&
          MakeLeaf("client", "ringleader-client", "extendedKeyUsage=clientAuth");
  }
  ~Pki() { fs::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  bool Run(const std::string& command) {
    return std::system(("cd " + dir_.string() + " && " + command + " >/dev/null 2>&1").c_str()) == 0;
  }
  bool MakeCa(const std::string& name) {
    return Run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
               name + ".key -out " + name + ".crt -days 1 -subj /CN=" + name);
  }
  bool MakeLeaf(const std::string& name, const std::string& cn, const std::string& ext) {
    std::ofstream(dir_ / (name + ".ext")) << ext << "\n";
    return Run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
               name + ".key -out " + name + ".csr -subj /CN=" + cn) &&
           Run("openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -out " +
               name + ".crt -days 1 -extfile " + name + ".ext");
  }
  fs::path dir_;
  bool ok_ = false;
};

// Serves every GET with a JSON object naming the client certificate's CN. One connection at
// a time (enough for sequential requests over one keep-alive connection).
class TlsServer {
 public:
  TlsServer(const Pki& pki, bool require_client_cert) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_file(ctx_, pki.Path("server.crt").c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx_, pki.Path("server.key").c_str(), SSL_FILETYPE_PEM);
    if (require_client_cert) {
      SSL_CTX_load_verify_locations(ctx_, pki.Path("ca.crt").c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TlsServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    int fd = conn_fd_.load();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
    SSL_CTX_free(ctx_);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int handshakes_ok() const { return handshakes_ok_.load(); }

 private:
  void Loop() {
    while (!stopping_) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      conn_fd_ = fd;
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        ++handshakes_ok_;
        std::string cn = "none";
        if (X509* peer = SSL_get1_peer_certificate(ssl)) {
          char buf[256];
          X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof(buf));
          cn = buf;
          X509_free(peer);
        }
        std::string pending;
        char chunk[4096];
        while (!stopping_) {
          int n = SSL_read(ssl, chunk, sizeof(chunk));
          if (n <= 0) break;
          pending.append(chunk, n);
          size_t end;
          while ((end = pending.find("\r\n\r\n")) != std::string::npos) {
            pending.erase(0, end + 4);  // requests in this test carry no body
            std::string body = R"({"kind":"Pod","metadata":{"name":"tls","annotations":{"client-cn":")" + cn + "\"}}}";
            std::string response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\n\r\n" + body;
            SSL_write(ssl, response.data(), static_cast<int>(response.size()));
          }
        }
      }
      SSL_free(ssl);
      conn_fd_ = -1;
      ::close(fd);
      ERR_clear_error();
    }
  }
  SSL_CTX* ctx_;
  int listen_fd_;
  int port_ = 0;
  std::atomic<int> conn_fd_{-1};
  std::atomic<bool> stopping_{false};
  std::atomic<int> handshakes_ok_{0};
  std::thread thread_;
};

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new Pki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }
  void SetUp() override {
    if (!pki_->ok()) GTEST_SKIP() << "openssl CLI unavailable: cannot generate test certificates";
  }
  StatusOr<Json> GetWith(const TlsServer& server, RestConfig config) {
    config.server = server.url();
    HttpClientOptions options;
    options.registry = &registry_;
    options.max_retries = 0;
    auto client = HttpClient::Create(config, options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) return StatusOr<Json>(client.status());
    return (*client)->Get(PodsResource(), "ns", "tls");
  }
  static inline Pki* pki_ = nullptr;
  metrics::Registry registry_;
};

TEST_F(TlsTest, ClientCertificateFromFilesAndCaFromData) {
  TlsServer server(*pki_, /*require_client_cert=*/true);
  RestConfig config;
  config.certificate_authority_data = ReadFile(pki_->Path("ca.crt"));
  config.client_certificate_file = pki_->Path("client.crt");
  config.client_key_file = pki_->Path("client.key");
  StatusOr<Json> got = GetWith(server, config);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["metadata"]["annotations"]["client-cn"], "ringleader-client");
}

TEST_F(TlsTest, ClientCertificateFromDataAndCaFromFile) {
  TlsServer server(*pki_, /*require_client_cert=*/true);
  RestConfig config;
  config.certificate_authority_file = pki_->Path("ca.crt");
  config.client_certificate_data = ReadFile(pki_->Path("client.crt"));
  config.client_key_data = ReadFile(pki_->Path("client.key"));
  StatusOr<Json> got = GetWith(server, config);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["metadata"]["annotations"]["client-cn"], "ringleader-client");
}

TEST_F(TlsTest, MissingClientCertificateIsRejected) {
  TlsServer server(*pki_, /*require_client_cert=*/true);
  RestConfig config;
  config.certificate_authority_file = pki_->Path("ca.crt");
  StatusOr<Json> got = GetWith(server, config);
  EXPECT_EQ(got.code(), StatusCode::kUnavailable) << got.status().ToString();
}

TEST_F(TlsTest, VerifiesTheServerUnlessTold) {
  TlsServer server(*pki_, /*require_client_cert=*/false);
  RestConfig wrong_ca;
  wrong_ca.certificate_authority_file = pki_->Path("other-ca.crt");
  StatusOr<Json> rejected = GetWith(server, wrong_ca);
  EXPECT_EQ(rejected.code(), StatusCode::kUnavailable);
  EXPECT_NE(rejected.status().message().find("SSL"), std::string::npos)
      << rejected.status().message();
  EXPECT_EQ(server.handshakes_ok(), 0);

  RestConfig insecure = wrong_ca;
  insecure.insecure_skip_tls_verify = true;  // only ever set from the kubeconfig
  StatusOr<Json> accepted = GetWith(server, insecure);
  EXPECT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ((*accepted)["metadata"]["annotations"]["client-cn"], "none");
}

}  // namespace
}  // namespace ringleader::kube
