#include "pod_watch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <string_view>

namespace ringleader::bench {

namespace {

// Each watch event is one line `{"type":"ADDED","object":{...}}` sent as its own chunk; this
// prefix cannot occur inside a pod the bench or the operator creates.
constexpr std::string_view kAddedPrefix = "{\"type\":\"ADDED\"";

std::string UrlEncode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

bool PodCreationWatch::Start(int port, const std::string& label_selector) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::string request = "GET /api/v1/pods?watch=1&labelSelector=" + UrlEncode(label_selector) +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                        "User-Agent: operator_bench\r\n\r\n";
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return false;
  }
  // Read the response head; the body may start in the same read.
  std::string head;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t end;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    head.append(buffer, static_cast<size_t>(n));
  }
  if (head.rfind("HTTP/1.1 200", 0) != 0) return false;
  leftover_ = head.substr(end + 4);
  reader_ = std::jthread([this](std::stop_token stop) { ReadLoop(stop); });
  return true;
}

void PodCreationWatch::ReadLoop(std::stop_token stop) {
  std::string window = std::move(leftover_);
  char buffer[1 << 16];
  while (!stop.stop_requested()) {
    // Count complete prefixes in the window, then keep only a tail that could start one.
    size_t found = 0, at = 0;
    while ((at = window.find(kAddedPrefix, at)) != std::string::npos) {
      ++found;
      at += kAddedPrefix.size();
    }
    if (found > 0) {
      auto now = std::chrono::steady_clock::now();
      std::lock_guard<std::mutex> lock(mu_);
      added_.insert(added_.end(), found, now);
      cv_.notify_all();
    }
    size_t keep = std::min(window.size(), kAddedPrefix.size() - 1);
    window.erase(0, window.size() - keep);
    pollfd pfd{fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, 100);
    if (ready <= 0) continue;
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    window.append(buffer, static_cast<size_t>(n));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ended_ = true;
  cv_.notify_all();
}

bool PodCreationWatch::WaitFor(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return added_.size() >= count || ended_; }) &&
         added_.size() >= count;
}

size_t PodCreationWatch::Count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return added_.size();
}

PodCreationWatch::TimePoint PodCreationWatch::TimeOf(size_t n) const {
  std::lock_guard<std::mutex> lock(mu_);
  return added_.at(n - 1);
}

void PodCreationWatch::Stop() {
  if (reader_.joinable()) {
    reader_.request_stop();
    reader_.join();
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace ringleader::bench
