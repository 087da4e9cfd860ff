#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1:0 for HttpClient tests, on the test API server's
// HttpServer: each request is recorded and answered by a handler that returns a Response
// value; a response may be chunked (watch streams) and may be held open until the client goes
// away or the server stops. Keep-alive is HttpServer's, so connection reuse is observable
// through Request::connection_id and connections_accepted().
//
// Thread-safety: the handler runs on the connection's thread, concurrently for concurrent
// connections; requests() and CountRequests() may be called from any thread.

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "ringleader/testing/http_server.h"

namespace ringleader::testapi {

class ScriptedHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;                          // path + query, as sent
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    int connection_id = 0;  // HttpRequest::connection_id
  };
  struct Response {
    int status = 200;
    // Sent in order; Content-Type defaults to application/json when not among them.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                 // sent with Content-Length unless chunks is used
    std::vector<std::string> chunks;  // chunked transfer, one write per chunk
    bool hold_open = false;           // after the chunks, keep the stream open
    bool close_connection = false;    // close after this response
  };
  using Handler = std::function<Response(const Request&)>;

  // Listens at once; throws std::runtime_error when it cannot (a test cannot go on without it).
  explicit ScriptedHttpServer(Handler handler);

  int port() const { return server_.port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  int connections_accepted() const { return server_.connections_accepted(); }
  std::vector<Request> requests() const;
  // Requests whose target starts with `prefix`.
  int CountRequests(const std::string& prefix) const;

 private:
  void Serve(const HttpRequest& request, HttpResponseWriter& writer);

  Handler handler_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  // Last member: destroyed (stopped) first, while the handler and the record still exist.
  HttpServer server_;
};

}  // namespace ringleader::testapi
