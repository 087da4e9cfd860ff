// TestApiServer with a bearer token and over HTTPS: 401 Unauthorized Status without the token,
// requests and watches (each way a watch ends) over TLS, handshakes off the accept loop, the
// kubeconfig it writes loaded by the operator's own client, and misconfigured certificates.
// Certificates are generated at test time with the openssl CLI (TLS tests skip without it).

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "ringleader/common/metrics.h"
#include "ringleader/kube/config.h"
#include "ringleader/kube/http_client.h"
#include "ringleader/kube/resource.h"
#include "ringleader/testing/test_api_server.h"
#include "ringleader/testing/test_pki.h"
#include "test_http.h"

namespace ringleader::testapi {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::ClientOptions;
using test::Http;
using test::WaitFor;
using test::Watch;

constexpr char kToken[] = "s3cret-token";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// What kube-apiserver answers a request it cannot authenticate.
const json kUnauthorized = json::parse(R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                                           "message":"Unauthorized","reason":"Unauthorized","code":401})");

class TlsAuthTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) server_->Stop();
  }
  void StartServer(TestApiServerOptions options) {
    server_ = std::make_unique<TestApiServer>(options);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  TestApiServerOptions TlsOptions() const {
    TestApiServerOptions options;
    options.tls_cert_file = certs_.Path("self-signed.crt");
    options.tls_key_file = certs_.Path("self-signed.key");
    options.token = kToken;
    return options;
  }
  ClientOptions Trusted(const std::string& token = kToken) const { return {certs_.Path("self-signed.crt"), token}; }
  std::string Pods(const std::string& suffix = "") const {
    return server_->url() + "/api/v1/namespaces/default/pods" + suffix;
  }
  static std::string Pod(const std::string& name) {
    return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}},
                {"spec", {{"containers", {{{"name", "main"}, {"image", "busybox"}}}}}}}
        .dump();
  }

  const TestPki& certs_ = TestPki::Shared();
  std::unique_ptr<TestApiServer> server_;
};

#define SKIP_WITHOUT_CERTIFICATES() \
  if (!certs_.ok()) GTEST_SKIP() << "openssl CLI unavailable: cannot generate a test certificate"

TEST_F(TlsAuthTest, TokenIsRequiredOnEveryRequest) {
  TestApiServerOptions options;
  options.token = kToken;
  StartServer(options);
  const std::string namespaces = server_->url() + "/api/v1/namespaces";
  ASSERT_EQ(server_->url().rfind("http://", 0), 0u);

  test::HttpResult anonymous = Http("GET", namespaces);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Json(), kUnauthorized) << anonymous.body;
  // A prefix or an extension of the token is not the token.
  for (const std::string wrong : {"s3cret", "s3cret-token-and-more", "wrong"}) {
    test::HttpResult got = Http("GET", namespaces, "", "application/json", "application/json", {"", wrong});
    EXPECT_EQ(got.status, 401) << wrong;
    EXPECT_EQ(got.Json(), kUnauthorized) << wrong;
  }
  // Control endpoints and writes too, before any fault or handler runs.
  EXPECT_EQ(Http("GET", server_->url() + "/testing/requests").status, 401);
  EXPECT_EQ(Http("POST", Pods(), Pod("anonymous")).status, 401);
  EXPECT_EQ(server_->CountObjects("", "pods"), 0u);

  test::HttpResult ok = Http("GET", namespaces, "", "application/json", "application/json", {"", kToken});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.Json()["kind"], "NamespaceList");
  EXPECT_EQ(Http("POST", Pods(), Pod("authorized"), "application/json", "application/json", {"", kToken}).status, 201);
  EXPECT_EQ(Http("GET", server_->url() + "/testing/requests", "", "application/json", "application/json", {"", kToken})
                .status,
            200);

  int unauthorized = 0;
  for (const RequestRecord& r : server_->Requests()) unauthorized += r.status == 401;
  EXPECT_EQ(unauthorized, 6);
}

TEST_F(TlsAuthTest, ServesRequestsOverTls) {
  SKIP_WITHOUT_CERTIFICATES();
  StartServer(TlsOptions());
  ASSERT_EQ(server_->url(), "https://127.0.0.1:" + std::to_string(server_->port()));

  EXPECT_EQ(Http("POST", Pods(), Pod("tls"), "application/json", "application/json", Trusted()).status, 201);
  test::HttpResult got = Http("GET", Pods("/tls"), "", "application/json", "application/json", Trusted());
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Json()["metadata"]["name"], "tls");
  // Over TLS the token is still required.
  test::HttpResult anonymous = Http("GET", Pods("/tls"), "", "application/json", "application/json", Trusted(""));
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Json(), kUnauthorized);
  // Without trusting the certificate there is no answer (curl's default CAs), and plain HTTP
  // to the TLS port gets none either.
  EXPECT_EQ(Http("GET", Pods("/tls"), "", "application/json", "application/json", {"", kToken}).status, 0);
  std::string plain = "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/v1/namespaces/default/pods/tls";
  EXPECT_EQ(Http("GET", plain, "", "application/json", "application/json", {"", kToken}).status, 0);
  // The server is still fine after those failed handshakes.
  EXPECT_EQ(Http("GET", Pods("/tls"), "", "application/json", "application/json", Trusted()).status, 200);
}

TEST_F(TlsAuthTest, WatchesOverTlsEndEveryWay) {
  SKIP_WITHOUT_CERTIFICATES();
  StartServer(TlsOptions());
  ClientOptions client = Trusted();

  // The client leaves once it has what it wants; the server notices and drops the watch.
  std::thread creator([&] {
    WaitFor([&] { return server_->open_watches() == 1; });
    Http("POST", Pods(), Pod("watched"), "application/json", "application/json", client);
  });
  auto seen = Watch(
      Pods("?watch=1"), [](const auto& events) { return !events.empty(); }, std::chrono::seconds(10), nullptr, client);
  creator.join();
  EXPECT_EQ(seen.status, 200);
  ASSERT_EQ(seen.events.size(), 1u);
  EXPECT_EQ(seen.events[0]["type"], "ADDED");
  EXPECT_EQ(seen.events[0]["object"]["metadata"]["name"], "watched");
  EXPECT_TRUE(WaitFor([&] { return server_->open_watches() == 0; }));

  // The server ends the stream cleanly (terminating chunk over TLS).
  std::thread dropper([&] {
    WaitFor([&] { return server_->open_watches() == 1; });
    server_->DropAllWatches();
  });
  auto dropped = Watch(Pods("?watch=1"), [](const auto&) { return false; }, std::chrono::seconds(10), nullptr, client);
  dropper.join();
  EXPECT_EQ(dropped.status, 200);
  EXPECT_TRUE(dropped.ended_by_server);

  // A restart cuts the connection under the TLS session: not a clean end of stream.
  std::thread restarter([&] {
    WaitFor([&] { return server_->open_watches() == 1; });
    server_->Restart();
  });
  auto cut = Watch(Pods("?watch=1"), [](const auto&) { return false; }, std::chrono::seconds(10), nullptr, client);
  restarter.join();
  EXPECT_FALSE(cut.ended_by_server);
  EXPECT_TRUE(WaitFor([&] { return server_->open_watches() == 0; }));
  EXPECT_EQ(Http("GET", Pods("/watched"), "", "application/json", "application/json", client).status, 200);
}

TEST_F(TlsAuthTest, SilentClientDoesNotBlockOthers) {
  SKIP_WITHOUT_CERTIFICATES();
  StartServer(TlsOptions());
  // A connection that never sends its ClientHello: its handshake waits on its own thread.
  int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Accepted before curl's connection below (the backlog is FIFO): a handshake on the accept
  // loop would hold curl until its timeout.
  ASSERT_EQ(::connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);

  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Http("GET", Pods(), "", "application/json", "application/json", Trusted()).status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));

  // Stop ends the stalled handshake: the silent peer sees its connection closed.
  server_->Stop();
  pollfd p{silent, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  char c;
  EXPECT_LE(::recv(silent, &c, 1, 0), 0);
  ::close(silent);
}

TEST_F(TlsAuthTest, KubeconfigWorksWithTheOperatorClient) {
  SKIP_WITHOUT_CERTIFICATES();
  TestApiServerOptions options = TlsOptions();
  options.kubeconfig_out = certs_.Path("kubeconfig");
  StartServer(options);
  std::string text = ReadFile(options.kubeconfig_out);
  EXPECT_NE(text.find("server: https://127.0.0.1:" + std::to_string(server_->port()) + "\n"), std::string::npos)
      << text;

  auto config = kube::LoadKubeconfig({options.kubeconfig_out, ""});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->certificate_authority_data, ReadFile(certs_.Path("self-signed.crt")));
  ASSERT_TRUE(config->token);
  EXPECT_EQ(config->token->Token(), kToken);

  metrics::Registry registry;
  kube::HttpClientOptions client_options;
  client_options.registry = &registry;
  client_options.max_retries = 0;
  auto client = kube::HttpClient::Create(*config, client_options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto ns = (*client)->Get(kube::NamespacesResource(), "", "default");
  ASSERT_TRUE(ns.ok()) << ns.status().ToString();
  EXPECT_EQ((*ns)["metadata"]["name"], "default");

  kube::RestConfig wrong = *config;
  wrong.token = kube::TokenSource::Static("not-the-token");
  auto wrong_client = kube::HttpClient::Create(wrong, client_options);
  ASSERT_TRUE(wrong_client.ok());
  auto denied = (*wrong_client)->Get(kube::NamespacesResource(), "", "default");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(kube::ApiStatusOf(denied).http_code, 401);
  EXPECT_EQ(kube::ApiStatusOf(denied).reason, "Unauthorized");
}

TEST_F(TlsAuthTest, DefaultKubeconfigIsUnchanged) {
  TestApiServerOptions options;
  char pattern[] = "/tmp/rl-testapi-kc-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  options.kubeconfig_out = std::string(pattern) + "/kubeconfig";
  StartServer(options);
  EXPECT_EQ(ReadFile(options.kubeconfig_out),
            "apiVersion: v1\nkind: Config\nclusters:\n- name: ringleader-test\n  cluster:\n    server: http://127.0.0.1:" +
                std::to_string(server_->port()) +
                "\ncontexts:\n- name: ringleader-test\n  context:\n    cluster: ringleader-test\n"
                "    user: ringleader-test\n    namespace: default\ncurrent-context: ringleader-test\n"
                "users:\n- name: ringleader-test\n  user:\n    token: ringleader-test-token\npreferences: {}\n");
  fs::remove_all(pattern);
}

TEST_F(TlsAuthTest, MisconfiguredTlsFailsStartNamingTheFlag) {
  SKIP_WITHOUT_CERTIFICATES();
  struct Case {
    std::string cert, key, want;
  };
  const std::vector<Case> cases = {
      {certs_.Path("self-signed.crt"), "", "--tls-cert (tls_cert_file) needs --tls-key"},
      {"", certs_.Path("self-signed.key"), "--tls-key (tls_key_file) needs --tls-cert"},
      {certs_.Path("missing.crt"), certs_.Path("self-signed.key"), "--tls-cert " + certs_.Path("missing.crt") + ": cannot read"},
      {certs_.Path("self-signed.crt"), certs_.Path("missing.key"), "--tls-key " + certs_.Path("missing.key") + ": cannot read"},
      {certs_.Path("garbage.crt"), certs_.Path("self-signed.key"), "--tls-cert " + certs_.Path("garbage.crt") + ": not a PEM certificate"},
      {certs_.Path("self-signed.crt"), certs_.Path("garbage.crt"), "--tls-key " + certs_.Path("garbage.crt") + ": not a PEM private key"},
      {certs_.Path("self-signed.crt"), certs_.Path("other.key"), "--tls-key " + certs_.Path("other.key") + " does not match"},
  };
  for (const Case& c : cases) {
    TestApiServerOptions options;
    options.tls_cert_file = c.cert;
    options.tls_key_file = c.key;
    TestApiServer server(options);
    Status st = server.Start();
    ASSERT_FALSE(st.ok()) << c.want;
    EXPECT_NE(st.message().find(c.want), std::string::npos) << st.message();
    EXPECT_EQ(server.port(), 0);
  }
}

}  // namespace
}  // namespace ringleader::testapi
