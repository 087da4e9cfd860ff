// HttpClient::Watch: one watch stream over libcurl, decoded line by line as it arrives.

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include "http_client_impl.h"
#include "ringleader/kube/watch_decoder.h"

namespace ringleader::kube {

namespace {

// State of one watch stream, touched only from the curl write callback (same thread).
struct WatchState {
  CURL* curl = nullptr;
  const WatchHandler* handler = nullptr;
  std::optional<FieldMask> event_mask;  // from WatchOptions::object_mask
  WatchLineDecoder decoder;
  std::vector<std::string> lines;
  long http_code = 0;
  std::string error_body;      // body of a non-200 answer
  Status stream_status;        // set when the stream ends on our side (bad event, ERROR)
  bool handler_stopped = false;

  // Returns false to abort the transfer.
  bool Deliver(std::string_view bytes) {
    if (http_code == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
    if (http_code != 200) {
      if (error_body.size() < (1u << 20)) error_body.append(bytes);
      return true;
    }
    lines.clear();
    Status fed = decoder.Feed(bytes, &lines);
    if (!fed.ok()) {
      stream_status = fed;
      return false;
    }
    for (const std::string& line : lines) {
      if (!DeliverLine(line)) return false;
    }
    return true;
  }

  bool DeliverLine(const std::string& line) {
    StatusOr<WatchEvent> event = ParseWatchEvent(line, event_mask ? &*event_mask : nullptr);
    if (!event.ok()) {
      // A broken stream cannot be resynchronised: drop it, the caller rewatches.
      stream_status = UnavailableError("watch stream: " + event.status().message());
      return false;
    }
    bool is_error = event->type == WatchEventType::kError;
    Status error_status = is_error ? WatchErrorToStatus(*event) : Status::Ok();
    bool keep_going;
    try {
      keep_going = (*handler)(std::move(event).value());
    } catch (const std::exception& e) {
      // Never let an exception unwind through libcurl's C frames.
      stream_status = InternalError(std::string("watch handler threw: ") + e.what());
      return false;
    } catch (...) {
      stream_status = InternalError("watch handler threw a non-exception");
      return false;
    }
    if (is_error) {
      stream_status = error_status;
      return false;
    }
    if (!keep_going) {
      handler_stopped = true;
      return false;
    }
    return true;
  }
};

size_t WatchWriteCallback(char* data, size_t size, size_t nmemb, void* user) {
  auto* state = static_cast<WatchState*>(user);
  size_t n = size * nmemb;
  return state->Deliver(std::string_view(data, n)) ? n : 0;
}

}  // namespace

Status HttpClient::Watch(const GroupVersionResource& gvr, const std::string& ns,
                         const WatchOptions& options, const WatchHandler& handler,
                         std::stop_token stop) {
  std::string path = gvr.CollectionPath(ns) + "?watch=1";
  AppendQuery(&path, "labelSelector", options.label_selector);
  AppendQuery(&path, "fieldSelector", options.field_selector);
  AppendQuery(&path, "resourceVersion", options.resource_version);
  if (options.allow_bookmarks) AppendQuery(&path, "allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) {
    AppendQuery(&path, "timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  const std::string context = "GET " + path;
  bool retried_unauthorized = false;
  while (true) {
    if (stop.stop_requested()) return Status::Ok();
    impl_->Throttle();
    // A watch holds its connection for minutes: it gets its own handle (not the pool) and a
    // multi handle so that a stop request can wake the poll at once.
    CURL* curl = curl_easy_init();
    CURLM* multi = curl_multi_init();
    if (!curl || !multi) {
      if (curl) curl_easy_cleanup(curl);
      if (multi) curl_multi_cleanup(multi);
      return InternalError("curl init failed");
    }
    CurlSlist headers;
    impl_->Setup(curl, impl_->config.server + path, &headers, /*is_watch=*/true,
                 impl_->CurrentToken());
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
    WatchState state;
    state.curl = curl;
    state.handler = &handler;
    if (options.object_mask) state.event_mask = WatchEventMask(*options.object_mask);
    HeaderCapture captured;
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WatchWriteCallback);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCallback);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &captured);
    curl_multi_add_handle(multi, curl);
    auto started = Clock::now();
    CURLcode result = CURLE_OK;
    bool done = false;
    bool cancelled = false;
    {
      std::stop_callback wake(stop, [multi] { curl_multi_wakeup(multi); });
      while (!done) {
        if (stop.stop_requested()) {
          cancelled = true;
          break;
        }
        int running = 0;
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) {
          result = CURLE_RECV_ERROR;
          break;
        }
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
          if (msg->msg == CURLMSG_DONE) {
            result = msg->data.result;
            done = true;
          }
        }
        if (done || running == 0) break;
        curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
      }
    }
    long http_code = state.http_code;
    if (http_code == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_code);
    curl_multi_remove_handle(multi, curl);
    curl_easy_cleanup(curl);
    curl_multi_cleanup(multi);
    impl_->Record("watch", static_cast<int>(http_code),
                  std::chrono::duration<double>(Clock::now() - started).count());

    if (cancelled || state.handler_stopped) return Status::Ok();
    if (!state.stream_status.ok()) return state.stream_status;
    if (http_code == 200) {
      if (result == CURLE_OK) return Status::Ok();  // server closed the stream (timeout)
      return UnavailableError(context + ": watch stream broke: " + curl_easy_strerror(result));
    }
    if (http_code == 0) {
      return UnavailableError(context + ": transport error: " + curl_easy_strerror(result));
    }
    ApiStatus api = ParseApiStatus(static_cast<int>(http_code), state.error_body);
    if (captured.retry_after_seconds) api.retry_after_seconds = captured.retry_after_seconds;
    if (http_code == 401 && impl_->config.token && !impl_->config.token->file_path().empty() &&
        !retried_unauthorized) {
      retried_unauthorized = true;
      impl_->config.token->Invalidate();
      continue;
    }
    return ToStatus(api, context);
  }
}


}  // namespace ringleader::kube
