#pragma once
// A tiny libcurl client for the test API server tests: plain requests and watch streams.

#include <curl/curl.h>

#include <chrono>
#include <functional>
#include <thread>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ringleader::testapi::test {

struct HttpResult {
  long status = 0;
  std::string body;
  std::string retry_after;
  nlohmann::json Json() const { return body.empty() ? nlohmann::json() : nlohmann::json::parse(body, nullptr, false); }
};

// What a request carries beyond its URL, for a server with TLS and a token: the CA file to
// trust for https:// (the server's self-signed certificate) and a bearer token.
struct ClientOptions {
  std::string ca_file;
  std::string token;
};

inline curl_slist* ApplyClientOptions(CURL* curl, const ClientOptions& client, curl_slist* headers) {
  if (!client.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, client.ca_file.c_str());
  if (!client.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + client.token).c_str());
  return headers;
}

inline size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

inline size_t CaptureRetryAfter(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  std::string lower = line;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("retry-after:", 0) == 0) {
    std::string v = line.substr(12);
    while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
    *static_cast<std::string*>(user) = v;
  }
  return size * n;
}

inline HttpResult Http(const std::string& method, const std::string& url, const std::string& body = "",
                       const std::string& content_type = "application/json",
                       const std::string& accept = "application/json", const ClientOptions& client = {}) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  headers = curl_slist_append(headers, ("Accept: " + accept).c_str());
  headers = ApplyClientOptions(curl, client, headers);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CaptureRetryAfter);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.retry_after);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

struct WatchResult {
  long status = 0;
  std::vector<nlohmann::json> events;
  bool ended_by_server = false;  // the server closed the stream (vs. we stopped reading)
};

// Reads a watch stream until `enough(events)` is true, the server ends it, or the timeout.
inline WatchResult Watch(const std::string& url, const std::function<bool(const std::vector<nlohmann::json>&)>& enough,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10),
                         const std::function<void()>& on_start = nullptr, const ClientOptions& client = {}) {
  struct State {
    std::string buffer;
    WatchResult* result;
    const std::function<bool(const std::vector<nlohmann::json>&)>* enough;
    const std::function<void()>* on_start;
    bool started = false;
    bool stop = false;
  };
  WatchResult result;
  State state{"", &result, &enough, &on_start};
  auto write = +[](char* data, size_t size, size_t n, void* user) -> size_t {
    auto* st = static_cast<State*>(user);
    st->buffer.append(data, size * n);
    size_t nl;
    while ((nl = st->buffer.find('\n')) != std::string::npos) {
      st->result->events.push_back(nlohmann::json::parse(st->buffer.substr(0, nl), nullptr, false));
      st->buffer.erase(0, nl + 1);
    }
    if ((*st->enough)(st->result->events)) {
      st->stop = true;
      return 0;  // abort the transfer
    }
    return size * n;
  };
  auto progress = +[](void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
    auto* st = static_cast<State*>(user);
    if (!st->started && *st->on_start) {
      st->started = true;
      (*st->on_start)();
    }
    return 0;
  };
  CURL* curl = curl_easy_init();
  curl_slist* headers = ApplyClientOptions(curl, client, nullptr);
  if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  result.ended_by_server = rc == CURLE_OK && !state.stop;
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  return result;
}

// Polls `condition` until it holds or the deadline passes.
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace ringleader::testapi::test
