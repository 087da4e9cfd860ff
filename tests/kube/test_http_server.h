#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1:0 for HttpClient tests: each request is answered by
// a handler; responses may be chunked (watch streams) and may be held open until the client
// goes away or the server stops. Keep-alive is supported so connection reuse is observable.

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ringleader::kube::testing {

class TestHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;  // path + query
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    int connection_id = 0;
  };
  struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;                  // sent with Content-Length unless chunks is used
    std::vector<std::string> chunks;   // chunked transfer, one write per chunk
    bool hold_open = false;            // after the chunks, keep the stream open
    bool close_connection = false;     // close after this response
  };
  using Handler = std::function<Response(const Request&)>;

  explicit TestHttpServer(Handler handler);
  ~TestHttpServer();

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections_accepted() const { return connections_.load(); }
  std::vector<Request> requests() const;
  // Requests whose target starts with `prefix`.
  int CountRequests(const std::string& prefix) const;

 private:
  void AcceptLoop();
  void Serve(int fd, int connection_id);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::vector<std::thread> threads_;
  std::vector<int> open_fds_;
  std::thread accept_thread_;
};

}  // namespace ringleader::kube::testing
