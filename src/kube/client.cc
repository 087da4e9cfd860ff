#include "ringleader/kube/client.h"

#include <algorithm>

#include "internal.h"

namespace ringleader::kube {
namespace {

thread_local std::optional<std::chrono::steady_clock::time_point> t_request_deadline;

}  // namespace

ScopedRequestDeadline::ScopedRequestDeadline(std::chrono::steady_clock::time_point deadline)
    : previous_(t_request_deadline) {
  t_request_deadline = previous_ ? std::min(*previous_, deadline) : deadline;
}

ScopedRequestDeadline::~ScopedRequestDeadline() { t_request_deadline = previous_; }

std::optional<std::chrono::steady_clock::time_point> ScopedRequestDeadline::Current() {
  return t_request_deadline;
}

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

StatusOr<Json> Client::ListPaged(const GroupVersionResource& gvr, const std::string& ns, ListOptions options,
                                  const std::function<void(Json& items)>& on_items,
                                  const std::function<void()>& on_restart) {
  if (options.limit <= 0) options.limit = 500;
  const ListOptions first_page = options;
  bool restarted = false;
  Json result;
  while (true) {
    StatusOr<Json> page = List(gvr, ns, options);
    if (!page.ok()) {
      // The continue token's snapshot was compacted: start over once with a fresh list.
      if (page.IsGone() && !options.continue_token.empty() && !restarted) {
        restarted = true;
        options = first_page;
        result = Json();
        if (on_restart) on_restart();
        continue;
      }
      return page;
    }
    Json& body = page.value();
    // A 200 whose body is not an object (a proxy's `[]`, a bare string) is not a List; taking
    // it for one would throw on erase() below.
    if (!body.is_object()) {
      return StatusOr<Json>(
          InternalError("list " + gvr.ToString() + ": response is not a JSON object"));
    }
    if (auto page_items = body.find("items"); page_items != body.end() && page_items->is_array()) {
      on_items(*page_items);
    }
    std::string next = internal::MetaString(body, "continue");
    if (result.is_null()) {
      result = std::move(body);
      result.erase("items");
    }
    if (next.empty()) break;
    options.continue_token = next;
  }
  if (result.contains("metadata") && result["metadata"].is_object()) {
    result["metadata"].erase("continue");
    result["metadata"].erase("remainingItemCount");
  }
  return result;
}

StatusOr<Json> Client::ListAll(const GroupVersionResource& gvr, const std::string& ns,
                                ListOptions options) {
  Json items = Json::array();
  StatusOr<Json> result = ListPaged(
      gvr, ns, std::move(options),
      [&](Json& page_items) {
        for (auto& item : page_items) items.push_back(std::move(item));
      },
      [&] { items = Json::array(); });
  if (!result.ok()) return result;
  result.value()["items"] = std::move(items);
  return result;
}

}  // namespace ringleader::kube
