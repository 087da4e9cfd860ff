#include "ringleader/kube/client.h"

namespace ringleader::kube {

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

ApiResult<Json> Client::ListAll(const GroupVersionResource& gvr, const std::string& ns,
                                ListOptions options) {
  if (options.limit <= 0) options.limit = 500;
  const ListOptions first_page = options;
  bool restarted = false;
  Json result;
  Json items = Json::array();
  while (true) {
    ApiResult<Json> page = List(gvr, ns, options);
    if (!page.ok()) {
      // The continue token's snapshot was compacted: start over once with a fresh list.
      if (page.IsGone() && !options.continue_token.empty() && !restarted) {
        restarted = true;
        options = first_page;
        result = Json();
        items = Json::array();
        continue;
      }
      return page;
    }
    Json& body = page.value();
    if (result.is_null()) {
      result = body;
      result.erase("items");
    }
    if (body.contains("items") && body["items"].is_array()) {
      for (auto& item : body["items"]) items.push_back(std::move(item));
    }
    std::string next;
    if (body.contains("metadata") && body["metadata"].is_object()) {
      next = body["metadata"].value("continue", "");
    }
    if (next.empty()) break;
    options.continue_token = next;
  }
  result["items"] = std::move(items);
  if (result.contains("metadata") && result["metadata"].is_object()) {
    result["metadata"].erase("continue");
    result["metadata"].erase("remainingItemCount");
  }
  return result;
}

}  // namespace ringleader::kube
