#include "ringleader/kube/watch_decoder.h"

namespace ringleader::kube {

Status WatchLineDecoder::Feed(std::string_view bytes, std::vector<std::string>* lines) {
  if (failed_) return InvalidArgumentError("watch decoder already failed");
  size_t start = 0;
  while (start < bytes.size()) {
    size_t nl = bytes.find('\n', start);
    if (nl == std::string_view::npos) {
      buffer_.append(bytes.substr(start));
      if (buffer_.size() > max_line_bytes_) {
        failed_ = true;
        buffer_.clear();
        return InvalidArgumentError("watch event line exceeds " + std::to_string(max_line_bytes_) +
                                    " bytes");
      }
      break;
    }
    buffer_.append(bytes.substr(start, nl - start));
    start = nl + 1;
    if (buffer_.size() > max_line_bytes_) {
      failed_ = true;
      buffer_.clear();
      return InvalidArgumentError("watch event line exceeds " + std::to_string(max_line_bytes_) +
                                  " bytes");
    }
    while (!buffer_.empty() && (buffer_.back() == '\r' || buffer_.back() == ' ')) buffer_.pop_back();
    if (!buffer_.empty()) lines->push_back(std::move(buffer_));
    buffer_.clear();
  }
  return Status::Ok();
}

bool WatchLineDecoder::TakeRemainder(std::string* line) {
  while (!buffer_.empty() && (buffer_.back() == '\r' || buffer_.back() == ' ')) buffer_.pop_back();
  if (failed_ || buffer_.empty()) return false;
  *line = std::move(buffer_);
  buffer_.clear();
  return true;
}

namespace {

// What every object read through a mask keeps: what identifies it and what a Status says.
const FieldMask& AlwaysKept() {
  static const FieldMask kept = *FieldMask::Parse("apiVersion,kind,code,reason,message,details,metadata(resourceVersion)");
  return kept;
}

}  // namespace

FieldMask WatchEventMask(const FieldMask& object_mask) {
  return FieldMask::Only({{"type", FieldMask()}, {"object", FieldMask::Union(object_mask, AlwaysKept())}});
}

FieldMask ListMask(const FieldMask& item_mask) {
  return FieldMask::Only({{"apiVersion", FieldMask()},
                          {"kind", FieldMask()},
                          {"metadata", FieldMask()},
                          {"items", FieldMask::Union(item_mask, AlwaysKept())}});
}

StatusOr<WatchEvent> ParseWatchEvent(std::string_view line, const FieldMask* event_mask) {
  Json doc = DecodeJson(line, event_mask);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgumentError("watch event is not a JSON object: " +
                                std::string(line.substr(0, 128)));
  }
  auto type_it = doc.find("type");
  if (type_it == doc.end() || !type_it->is_string()) {
    return InvalidArgumentError("watch event has no string \"type\"");
  }
  const std::string& type = type_it->get_ref<const std::string&>();
  WatchEvent event;
  if (type == "ADDED") event.type = WatchEventType::kAdded;
  else if (type == "MODIFIED") event.type = WatchEventType::kModified;
  else if (type == "DELETED") event.type = WatchEventType::kDeleted;
  else if (type == "BOOKMARK") event.type = WatchEventType::kBookmark;
  else if (type == "ERROR") event.type = WatchEventType::kError;
  else return InvalidArgumentError("unknown watch event type \"" + type.substr(0, 64) + "\"");
  auto object_it = doc.find("object");
  if (object_it == doc.end() || !object_it->is_object()) {
    return InvalidArgumentError("watch event " + type + " has no \"object\" object");
  }
  event.object = std::move(*object_it);
  return event;
}

Status WatchErrorToStatus(const WatchEvent& event) {
  ApiStatus api;
  const Json& object = event.object;
  if (object.is_object()) {
    if (object.contains("code") && object["code"].is_number_integer()) {
      api.http_code = object["code"].get<int>();
    }
    if (object.contains("reason") && object["reason"].is_string()) {
      api.reason = object["reason"].get<std::string>();
    }
    if (object.contains("message") && object["message"].is_string()) {
      api.message = object["message"].get<std::string>();
    }
  }
  // An ERROR event without a usable code is still an error: treat it like a server failure.
  if (api.http_code < 400) api.http_code = 500;
  return ToStatus(api, "watch ERROR event");
}

const char* WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded: return "ADDED";
    case WatchEventType::kModified: return "MODIFIED";
    case WatchEventType::kDeleted: return "DELETED";
    case WatchEventType::kBookmark: return "BOOKMARK";
    case WatchEventType::kError: return "ERROR";
  }
  return "UNKNOWN";
}

}  // namespace ringleader::kube
