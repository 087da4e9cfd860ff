#include "ringleader/testing/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringleader::testapi {
namespace {

constexpr size_t kMaxHeaderBytes = 1 << 20;
constexpr size_t kMaxBodyBytes = 64u << 20;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// Buffered reader over a connection; returns false on EOF/error.
class SocketReader {
 public:
  explicit SocketReader(Transport& transport) : transport_(transport) {}
  bool ReadLine(std::string* line) {
    while (true) {
      size_t pos = buf_.find("\r\n", start_);
      if (pos != std::string::npos) {
        *line = buf_.substr(start_, pos - start_);
        start_ = pos + 2;
        return true;
      }
      if (buf_.size() - start_ > kMaxHeaderBytes) return false;
      if (!Fill()) return false;
    }
  }
  bool ReadExact(size_t n, std::string* out) {
    while (buf_.size() - start_ < n) {
      if (!Fill()) return false;
    }
    out->append(buf_, start_, n);
    start_ += n;
    return true;
  }

 private:
  bool Fill() {
    if (start_ > 0 && start_ == buf_.size()) {
      buf_.clear();
      start_ = 0;
    } else if (start_ > 65536) {
      buf_.erase(0, start_);
      start_ = 0;
    }
    char tmp[16384];
    ssize_t n = transport_.Read(tmp, sizeof(tmp));
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  Transport& transport_;
  std::string buf_;
  size_t start_ = 0;
};

void ParseQuery(const std::string& raw, std::multimap<std::string, std::string>* out) {
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t amp = raw.find('&', pos);
    if (amp == std::string::npos) amp = raw.size();
    std::string part = raw.substr(pos, amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string::npos) {
        out->emplace(PercentDecode(part, true), "");
      } else {
        out->emplace(PercentDecode(part.substr(0, eq), true), PercentDecode(part.substr(eq + 1), true));
      }
    }
    pos = amp + 1;
  }
}

}  // namespace

std::string PercentDecode(const std::string& in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::Query(const std::string& name) const {
  auto range = query.equal_range(name);
  std::string value;
  for (auto it = range.first; it != range.second; ++it) value = it->second;
  return value;
}

bool HttpResponseWriter::WriteAll(const std::string& data) {
  if (failed_) return false;
  if (!transport_.WriteAll(data.data(), data.size())) {
    failed_ = true;
    return false;
  }
  return true;
}

bool HttpResponseWriter::Send(int status, const std::string& content_type, const std::string& body,
                              const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  sent_ = true;
  status_ = status;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
  if (!content_type.empty()) head += "Content-Type: " + content_type + "\r\n";
  head += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  for (const auto& [k, v] : extra_headers) head += k + ": " + v + "\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  head += "\r\n";
  head += body;
  return WriteAll(head);
}

bool HttpResponseWriter::BeginChunked(int status, const std::string& content_type,
                                      const std::vector<std::pair<std::string, std::string>>& extra_headers) {
  sent_ = true;
  status_ = status;
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + Reason(status) + "\r\n";
  head += "Content-Type: " + content_type + "\r\n";
  head += "Transfer-Encoding: chunked\r\n";
  for (const auto& [k, v] : extra_headers) head += k + ": " + v + "\r\n";
  head += "Cache-Control: no-cache, private\r\n";
  head += keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  head += "\r\n";
  return WriteAll(head);
}

bool HttpResponseWriter::WriteChunk(const std::string& data) {
  if (data.empty()) return !failed_;
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return WriteAll(std::string(size) + data + "\r\n");
}

void HttpResponseWriter::EndChunked() { WriteAll("0\r\n\r\n"); }

// On TLS too this looks at the socket: a client that leaves closes TCP (after its close_notify,
// which alone makes POLLIN without EOF and so does not count), and nothing else is read while
// a watch streams.
bool HttpResponseWriter::PeerClosed() const {
  if (failed_) return true;
  pollfd p{transport_.fd(), POLLIN | POLLRDHUP, 0};
  int r = ::poll(&p, 1, 0);
  if (r <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & POLLIN) {
    char c;
    ssize_t n = ::recv(transport_.fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0;
  }
  return false;
}

HttpServer::~HttpServer() {
  Stop();
  SSL_CTX_free(tls_ctx_);
}

Status HttpServer::Start(const std::string& host, int port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return InvalidArgumentError("listen address must be an IPv4 address, got '" + host + "'");
  }
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 512) != 0) {
    std::string err = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return UnavailableError("bind/listen " + host + ":" + std::to_string(port) + ": " + err);
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  stopping_ = false;
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (listen_fd_ < 0 && !accept_thread_.joinable()) return;
  stopping_ = true;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  CloseAllConnections();
  std::unique_lock<std::mutex> lock(mu_);
  all_closed_.wait(lock, [this] { return live_threads_ == 0; });
}

void HttpServer::CloseAllConnections() {
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
}

size_t HttpServer::open_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_.size();
}

void HttpServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stopping_) break;
      if (errno == EMFILE || errno == ENFILE) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      break;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    {
      std::lock_guard<std::mutex> lock(mu_);
      connections_.insert(fd);
      ++live_threads_;
    }
    int connection_id = ++connections_accepted_;
    std::thread([this, fd, connection_id] { ServeConnection(fd, connection_id); }).detach();
  }
}

void HttpServer::ServeConnection(int fd, int connection_id) {
  if (tls_ctx_ == nullptr) {
    Transport transport(fd);
    ServeRequests(transport, connection_id);
  } else {
    // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a peer gone mid-write would raise
    // SIGPIPE and kill a process that did not ignore it (a gtest binary). Blocked on this
    // thread, the signal stays pending and is discarded when the thread ends.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    SSL* ssl = SSL_new(tls_ctx_);
    // The handshake is here, on the connection's thread, so a slow or silent client holds only
    // its own connection; Stop/CloseAllConnections end a stalled one by shutting the fd down.
    if (ssl != nullptr && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
      Transport transport(fd, ssl);
      ServeRequests(transport, connection_id);
      SSL_shutdown(ssl);  // close_notify; fails harmlessly when the peer is already gone
    }
    SSL_free(ssl);
    ERR_clear_error();
  }
  ::shutdown(fd, SHUT_RDWR);
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(fd);
  ::close(fd);
  if (--live_threads_ == 0) all_closed_.notify_all();
}

void HttpServer::ServeRequests(Transport& transport, int connection_id) {
  SocketReader reader(transport);
  const std::string client_common_name = transport.PeerCommonName();
  while (!stopping_) {
    HttpRequest req;
    req.connection_id = connection_id;
    req.client_common_name = client_common_name;
    std::string line;
    if (!reader.ReadLine(&line)) break;
    if (line.empty()) continue;  // tolerate stray CRLF between requests
    size_t sp1 = line.find(' ');
    size_t sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) break;
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string version = line.substr(sp2 + 1);
    bool ok = true;
    size_t header_bytes = 0;
    while (true) {
      if (!reader.ReadLine(&line)) {
        ok = false;
        break;
      }
      if (line.empty()) break;
      header_bytes += line.size();
      if (header_bytes > kMaxHeaderBytes) {
        ok = false;
        break;
      }
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      req.headers[Lower(Trim(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
    }
    if (!ok) break;
    // curl sends "Expect: 100-continue" before larger bodies and otherwise waits a second.
    if (Lower(req.Header("expect")) == "100-continue") {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (!transport.WriteAll(kContinue, sizeof(kContinue) - 1)) break;
    }
    std::string te = Lower(req.Header("transfer-encoding"));
    if (te.find("chunked") != std::string::npos) {
      while (true) {
        if (!reader.ReadLine(&line)) {
          ok = false;
          break;
        }
        size_t n = std::strtoul(line.c_str(), nullptr, 16);
        if (n == 0) {
          // trailers until an empty line
          while (reader.ReadLine(&line) && !line.empty()) {
          }
          break;
        }
        if (req.body.size() + n > kMaxBodyBytes || !reader.ReadExact(n, &req.body) ||
            !reader.ReadLine(&line)) {
          ok = false;
          break;
        }
      }
    } else if (!req.Header("content-length").empty()) {
      size_t n = std::strtoul(req.Header("content-length").c_str(), nullptr, 10);
      if (n > kMaxBodyBytes || !reader.ReadExact(n, &req.body)) ok = false;
    }
    if (!ok) break;
    size_t qpos = req.target.find('?');
    std::string raw_path = qpos == std::string::npos ? req.target : req.target.substr(0, qpos);
    if (qpos != std::string::npos) req.raw_query = req.target.substr(qpos + 1);
    req.path = PercentDecode(raw_path, false);
    ParseQuery(req.raw_query, &req.query);
    std::string conn = Lower(req.Header("connection"));
    bool keep_alive = version == "HTTP/1.1" ? conn.find("close") == std::string::npos
                                            : conn.find("keep-alive") != std::string::npos;
    HttpResponseWriter writer(transport, keep_alive);
    handler_(req, writer);
    if (!writer.sent()) writer.Send(500, "text/plain", "handler sent no response");
    if (!writer.keep_alive()) break;
  }
}

}  // namespace ringleader::testapi
