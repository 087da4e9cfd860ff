#pragma once
// A small HTTP/1.1 server for the test API server: one thread per connection, keep-alive,
// complete responses or never-ending chunked streams (watches), and an abrupt "close every
// connection now" used by the restart fault. Optionally HTTPS (EnableTls): the handshake runs
// on the connection's thread, and every read and write goes through a Transport (the plain
// socket or an OpenSSL session over it), so both share one request loop. Serves the test API
// server and, through ScriptedHttpServer, the HTTP client's tests (which observe connection
// reuse through HttpRequest::connection_id and connections_accepted()).
//
// Why not cpprest's http_listener: see docs/testing.md (a probe showed it streams fine, but a
// streamed response gets no signal that the peer went away, and it cannot drop individual
// live connections, which the restart fault needs).
//
// Thread-safety: Start/Stop from one thread; CloseAllConnections from any thread. The
// handler runs on the connection's thread and may block (a watch does).

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ringleader/common/status.h"

struct ssl_st;      // OpenSSL's SSL
struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace ringleader::testapi {

// The bytes of one connection: the socket itself, or a TLS session over it. One branch per
// call, so plain HTTP costs what it did before TLS existed (the operator benchmark runs on it).
// Used only by the connection's own thread; CloseAllConnections acts on the fd underneath.
class Transport {
 public:
  explicit Transport(int fd, ssl_st* ssl = nullptr) : fd_(fd), ssl_(ssl) {}
  // Up to `size` bytes; <= 0 on EOF or error.
  ssize_t Read(char* data, size_t size);
  // false when the peer is gone (or the connection was shut down).
  bool WriteAll(const char* data, size_t size);
  int fd() const { return fd_; }
  // The common name of the client certificate the handshake verified, or "" (plain HTTP, or
  // no certificate asked for).
  std::string PeerCommonName() const;

 private:
  int fd_;
  ssl_st* ssl_;
};

struct HttpRequest {
  std::string method;
  std::string target;        // raw request target, path + "?" + query
  std::string path;          // percent-decoded path
  std::string raw_query;     // undecoded query string
  std::multimap<std::string, std::string> query;  // decoded parameters
  std::map<std::string, std::string> headers;     // keys lower-cased
  std::string body;
  // Which accepted connection carried the request, counted from 1 in accept order.
  int connection_id = 0;
  // The verified client certificate's common name ("" without one): kube-apiserver's x509
  // authentication takes the user name from it.
  std::string client_common_name;

  std::string Header(const std::string& lower_name) const;
  // The last value of a query parameter, or "" when absent.
  std::string Query(const std::string& name) const;
  bool HasQuery(const std::string& name) const { return query.count(name) > 0; }
};

class HttpResponseWriter {
 public:
  HttpResponseWriter(Transport& transport, bool keep_alive) : transport_(transport), keep_alive_(keep_alive) {}

  // A complete response with Content-Length.
  bool Send(int status, const std::string& content_type, const std::string& body,
            const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  // A chunked response: BeginChunked, WriteChunk (each goes out at once), EndChunked.
  bool BeginChunked(int status, const std::string& content_type,
                    const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
  bool WriteChunk(const std::string& data);
  void EndChunked();
  // True once the peer closed or reset the connection (checked without blocking).
  bool PeerClosed() const;
  // Close the connection after this response instead of keeping it alive. Called before Send
  // or BeginChunked, the response also says "Connection: close"; called after BeginChunked,
  // the stream is cut where it stands (EndChunked not needed).
  void CloseAfterResponse() { keep_alive_ = false; }

  bool sent() const { return sent_; }
  bool failed() const { return failed_; }
  bool keep_alive() const { return keep_alive_ && !failed_; }
  int status() const { return status_; }

 private:
  bool WriteAll(const std::string& data);

  Transport& transport_;
  bool keep_alive_;
  bool sent_ = false;
  bool failed_ = false;
  int status_ = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponseWriter&)>;

class HttpServer {
 public:
  explicit HttpServer(HttpHandler handler) : handler_(std::move(handler)) {}
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serve HTTPS with this PEM certificate (chain) and private key; call before Start.
  // InvalidArgument naming the flag (--tls-cert, --tls-key) and file when one cannot be read
  // or loaded, or they do not match.
  Status EnableTls(const std::string& cert_file, const std::string& key_file);
  // After EnableTls: every client must present a certificate signed by a CA in `ca_file`
  // (kube-apiserver's --client-ca-file); a handshake without one fails.
  Status RequireClientCertificates(const std::string& ca_file);
  // Binds host:port (port 0 picks a free one) and starts accepting.
  Status Start(const std::string& host, int port);
  // Stops accepting, closes every connection and waits for their threads to finish.
  void Stop();
  // Shuts down every open connection (the peers see a reset/EOF); keeps listening.
  void CloseAllConnections();
  int port() const { return port_; }
  size_t open_connections() const;
  // Connections accepted since Start.
  int connections_accepted() const { return connections_accepted_.load(); }

 private:
  void AcceptLoop();
  void ServeConnection(int fd, int connection_id);
  void ServeRequests(Transport& transport, int connection_id);

  HttpHandler handler_;
  ssl_ctx_st* tls_ctx_ = nullptr;  // set: every connection starts with a TLS handshake
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_accepted_{0};
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::condition_variable all_closed_;
  std::set<int> connections_;
  size_t live_threads_ = 0;
};

std::string PercentDecode(const std::string& in, bool plus_is_space);

}  // namespace ringleader::testapi
