// HttpClient over TLS: CA and client certificates from files and from memory (kubeconfig
// *-data), verification failures, insecure-skip-tls-verify. Certificates are generated at
// test time with the openssl CLI (TestPki); the server is the test API server's HTTPS server.

#include <gtest/gtest.h>

#include <atomic>

#include "ringleader/common/metrics.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/testing/http_server.h"
#include "ringleader/testing/test_pki.h"

namespace ringleader::kube {
namespace {

using testapi::TestPki;

// Serves every GET with a Pod whose annotation names the client certificate's CN ("none"),
// over the test API server's HTTPS server.
class TlsServer {
 public:
  TlsServer(const TestPki& pki, bool require_client_cert)
      : server_([this](const testapi::HttpRequest& request, testapi::HttpResponseWriter& response) {
          ++requests_;
          const std::string cn = request.client_common_name.empty() ? "none" : request.client_common_name;
          Json pod = {{"kind", "Pod"}, {"metadata", {{"name", "tls"}, {"annotations", {{"client-cn", cn}}}}}};
          response.Send(200, "application/json", pod.dump());
        }) {
    Status tls = server_.EnableTls(pki.Path("server.crt"), pki.Path("server.key"));
    if (tls.ok() && require_client_cert) tls = server_.RequireClientCertificates(pki.Path("ca.crt"));
    if (tls.ok()) tls = server_.Start("127.0.0.1", 0);
    EXPECT_TRUE(tls.ok()) << tls.ToString();
  }
  ~TlsServer() { server_.Stop(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(server_.port()); }
  // Requests that got through a handshake and were answered.
  int requests() const { return requests_.load(); }

 private:
  std::atomic<int> requests_{0};
  testapi::HttpServer server_;
};

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pki_.ok()) GTEST_SKIP() << "openssl CLI unavailable: cannot generate test certificates";
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
  const TestPki& pki_ = TestPki::Shared();
  metrics::Registry registry_;
};

// kubeconfig carries each of the CA and the client certificate either as a file path or as
// inline *-data; every combination the operator may meet must authenticate.
TEST_F(TlsTest, ClientCertificateAndCaFromFilesOrData) {
  for (bool from_files : {true, false}) {
    TlsServer server(pki_, /*require_client_cert=*/true);
    RestConfig config;
    if (from_files) {
      config.certificate_authority_data = pki_.Read("ca.crt");
      config.client_certificate_file = pki_.Path("client.crt");
      config.client_key_file = pki_.Path("client.key");
    } else {
      config.certificate_authority_file = pki_.Path("ca.crt");
      config.client_certificate_data = pki_.Read("client.crt");
      config.client_key_data = pki_.Read("client.key");
    }
    StatusOr<Json> got = GetWith(server, config);
    ASSERT_TRUE(got.ok()) << "client certificate from " << (from_files ? "files" : "data") << ": "
                          << got.status().ToString();
    EXPECT_EQ((*got)["metadata"]["annotations"]["client-cn"], TestPki::kClientCommonName);
  }
}

TEST_F(TlsTest, MissingClientCertificateIsRejected) {
  TlsServer server(pki_, /*require_client_cert=*/true);
  RestConfig config;
  config.certificate_authority_file = pki_.Path("ca.crt");
  StatusOr<Json> got = GetWith(server, config);
  EXPECT_EQ(got.code(), StatusCode::kUnavailable) << got.status().ToString();
}

TEST_F(TlsTest, VerifiesTheServerUnlessTold) {
  TlsServer server(pki_, /*require_client_cert=*/false);
  RestConfig wrong_ca;
  wrong_ca.certificate_authority_file = pki_.Path("other-ca.crt");
  StatusOr<Json> rejected = GetWith(server, wrong_ca);
  EXPECT_EQ(rejected.code(), StatusCode::kUnavailable);
  EXPECT_NE(rejected.status().message().find("SSL"), std::string::npos)
      << rejected.status().message();
  EXPECT_EQ(server.requests(), 0);

  RestConfig insecure = wrong_ca;
  insecure.insecure_skip_tls_verify = true;  // only ever set from the kubeconfig
  StatusOr<Json> accepted = GetWith(server, insecure);
  EXPECT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ((*accepted)["metadata"]["annotations"]["client-cn"], "none");
}

}  // namespace
}  // namespace ringleader::kube
