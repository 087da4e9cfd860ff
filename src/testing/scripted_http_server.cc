#include "ringleader/testing/scripted_http_server.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace ringleader::testapi {
namespace {

constexpr auto kHoldOpenPoll = std::chrono::milliseconds(50);

// The Content-Type the response names (application/json when none), and the other headers.
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> SplitContentType(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> others;
  for (const auto& header : headers) {
    if (header.first == "Content-Type") {
      content_type = header.second;
    } else {
      others.push_back(header);
    }
  }
  return {content_type, others};
}

}  // namespace

ScriptedHttpServer::ScriptedHttpServer(Handler handler)
    : handler_(std::move(handler)),
      server_([this](const HttpRequest& request, HttpResponseWriter& writer) { Serve(request, writer); }) {
  Status started = server_.Start("127.0.0.1", 0);
  if (!started.ok()) throw std::runtime_error("ScriptedHttpServer: " + started.ToString());
}

std::vector<ScriptedHttpServer::Request> ScriptedHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int ScriptedHttpServer::CountRequests(const std::string& prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(), [&](const Request& r) {
    return r.target.rfind(prefix, 0) == 0;
  }));
}

void ScriptedHttpServer::Serve(const HttpRequest& http_request, HttpResponseWriter& writer) {
  Request request{http_request.method, http_request.target, http_request.headers, http_request.body,
                  http_request.connection_id};
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
  }
  Response response = handler_(request);
  if (response.close_connection) writer.CloseAfterResponse();
  auto [content_type, headers] = SplitContentType(response.headers);
  if (response.chunks.empty() && !response.hold_open) {
    writer.Send(response.status, content_type, response.body, headers);
    return;
  }
  if (!writer.BeginChunked(response.status, content_type, headers)) return;
  for (const std::string& piece : response.chunks) {
    if (!writer.WriteChunk(piece)) return;
  }
  if (!response.hold_open) {
    writer.EndChunked();
    return;
  }
  // Until the client hangs up or Stop shuts the connection down (which PeerClosed also sees).
  while (!writer.PeerClosed()) std::this_thread::sleep_for(kHoldOpenPoll);
  writer.CloseAfterResponse();
}

}  // namespace ringleader::testapi
