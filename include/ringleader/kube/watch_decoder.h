#pragma once
// Decoding of the watch stream: the server sends one JSON object per line
// ({"type":"ADDED","object":{...}}\n) over a chunked response. A line may arrive split over
// many reads and one read may carry several lines; WatchLineDecoder reassembles lines,
// ParseWatchEvent turns one line into a typed event. Garbage yields an error, never a crash.
//
// Thread-safety: WatchLineDecoder is not thread-safe (one per stream).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/kube/client.h"

namespace ringleader::kube {

class WatchLineDecoder {
 public:
  // A line longer than this is an error (protects memory against a broken server).
  explicit WatchLineDecoder(size_t max_line_bytes = 64u << 20) : max_line_bytes_(max_line_bytes) {}

  // Appends bytes; complete lines (without the '\n', '\r' trimmed, blank lines skipped) are
  // appended to `lines`. Returns an error when a line exceeds the limit; the decoder is then
  // unusable (the caller drops the stream).
  Status Feed(std::string_view bytes, std::vector<std::string>* lines);
  // Bytes of an unfinished line held back.
  size_t pending_bytes() const { return buffer_.size(); }
  // At end of stream: a final line without '\n' (servers end with '\n'; tolerate it).
  bool TakeRemainder(std::string* line);

 private:
  size_t max_line_bytes_;
  std::string buffer_;
  bool failed_ = false;
};

// Parses one line. kInvalidArgument for non-JSON, a missing or
// unknown "type", or a missing/non-object "object". With `event_mask` (from WatchEventMask),
// only what it keeps of the object is decoded.
StatusOr<WatchEvent> ParseWatchEvent(std::string_view line, const FieldMask* event_mask = nullptr);

// The mask of a whole event line whose objects are read through `object_mask`: the type, and
// of the object what `object_mask` keeps plus what an ERROR event's Status and a BOOKMARK
// carry (code, reason, message, details, metadata.resourceVersion).
FieldMask WatchEventMask(const FieldMask& object_mask);

// The mask of a List response whose items are read through `item_mask` (the list's own
// metadata, and each item's metadata.resourceVersion, are kept).
FieldMask ListMask(const FieldMask& item_mask);

// For an ERROR event: the Status it carries as a ringleader::Status (410 → kGone).
Status WatchErrorToStatus(const WatchEvent& event);

}  // namespace ringleader::kube
