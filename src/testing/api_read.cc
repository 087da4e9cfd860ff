// Reads: get and list (label and field selectors, limit/continue paging, Tables for kubectl).

#include "server_impl.h"

namespace ringleader::testapi {

ResourceAnswer TestApiServer::Impl::GetLocked(const ResourceRequest& r) {
  const ResourceType& type = *r.target.type;
  json* obj = FindObject(type.Key(), r.target.namespace_name, r.target.name);
  if (obj == nullptr) {
    return ResourceAnswer::Fail(NotFound(type, r.target.name));
  }
  return ResourceAnswer::Ok(200, r.want_table ? BuildTable(type, {obj}, std::to_string(rv_)) : *obj);
}

std::optional<ApiError> TestApiServer::Impl::SelectLocked(const ResourceRequest& r, ListSelection* selection) {
  const ResourceType& type = *r.target.type;
  auto labels = LabelSelector::Parse(r.http.Query("labelSelector"));
  auto fields = FieldSelector::Parse(r.http.Query("fieldSelector"));
  if (!labels.ok() || !fields.ok()) {
    return BadRequest(!labels.ok() ? labels.status().message() : fields.status().message());
  }
  Watcher filter;  // reuse the watch matcher
  filter.namespace_name = r.target.namespace_name;
  filter.labels = *labels;
  filter.fields = *fields;
  int64_t limit = 0;
  if (!r.http.Query("limit").empty()) limit = std::atoll(r.http.Query("limit").c_str());
  std::string after;
  if (!r.http.Query("continue").empty()) after = HexDecode(r.http.Query("continue"));
  std::vector<const json*>& items = selection->items;
  auto tobjs = objects_.find(type.Key());
  if (tobjs == objects_.end()) return std::nullopt;
  auto it = after.empty() ? tobjs->second.begin() : tobjs->second.upper_bound(after);
  for (; it != tobjs->second.end(); ++it) {
    if (!WatcherMatches(filter, it->second)) continue;
    // deletecollection takes every match: limit pages lists only.
    if (r.target.verb == "list" && limit > 0 && static_cast<int64_t>(items.size()) >= limit) {
      if (selection->next.empty()) selection->next = HexEncode(ObjKey(Namespace(*items.back()), Name(*items.back())));
      ++selection->remaining;
      continue;
    }
    items.push_back(&it->second);
  }
  return std::nullopt;
}

ResourceAnswer TestApiServer::Impl::ListLocked(const ResourceRequest& r) {
  const ResourceType& type = *r.target.type;
  ListSelection selection;
  if (auto bad = SelectLocked(r, &selection)) return ResourceAnswer::Fail(*bad);
  std::string rv = std::to_string(rv_);
  json result;
  if (r.want_table) {
    result = BuildTable(type, selection.items, rv);
    if (!selection.next.empty()) result["metadata"]["continue"] = selection.next;
    return ResourceAnswer::Ok(200, result);
  }
  result = {{"kind", type.list_kind}, {"apiVersion", type.ApiVersion()}, {"metadata", {{"resourceVersion", rv}}}};
  if (!selection.next.empty()) {
    result["metadata"]["continue"] = selection.next;
    result["metadata"]["remainingItemCount"] = selection.remaining;
  } else if (type.custom) {
    result["metadata"]["continue"] = "";
  }
  json arr = json::array();
  for (const json* o : selection.items) {
    arr.push_back(*o);
    // Built-in lists carry no apiVersion/kind on their items, like the real server.
    if (!type.custom) {
      arr.back().erase("apiVersion");
      arr.back().erase("kind");
    }
  }
  result["items"] = std::move(arr);
  return ResourceAnswer::Ok(200, result);
}

}  // namespace ringleader::testapi
