// The store's write path: every change goes through Commit (new resourceVersion, history,
// watchers, the simulators' indexes), and every object to be stored through AdmitObject.

#include <algorithm>

#include "server_impl.h"

namespace ringleader::testapi {

void TestApiServer::Impl::Commit(const ResourceType& type, const std::string& event_type, json& object,
                                 const json* old_object) {
  ++rv_;
  object["metadata"]["resourceVersion"] = std::to_string(rv_);
  std::string key = ObjKey(Namespace(object), Name(object));
  if (event_type == "DELETED") {
    objects_[type.Key()].erase(key);
    uid_index_.erase(Uid(object));
  } else {
    objects_[type.Key()][key] = object;
    uid_index_[Uid(object)] = {type.Key(), key};
  }
  HistoryEvent ev{rv_, type.Key(), event_type, std::make_shared<const json>(object),
                  old_object ? std::make_shared<const json>(*old_object) : nullptr};
  std::string text;
  for (auto& w : watchers_) {
    if (w->closed || w->type_key != ev.type_key) continue;
    std::string t = EventTypeFor(*w, ev);
    if (t.empty()) continue;
    if (text.empty()) text = object.dump();
    w->lines.push_back(EventLine(t, text));
    w->cv.notify_all();
  }
  history_.push_back(std::move(ev));
  while (history_.size() > std::max<size_t>(options_.watch_history, 1)) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  if (type.plural == "pods" || type.plural == "nodes") {
    if (options_.simulate_pods) SimObserveLocked(type, event_type, key, object);
    sim_dirty_ = true;
    sim_cv_.notify_all();
  }
  if (options_.simulate_kueue && type.group == "kueue.x-k8s.io") {
    kueue_dirty_ = true;
    kueue_cv_.notify_all();
  }
}

void TestApiServer::Impl::RemoveObject(const ResourceType& type, json& object) {
  Commit(type, "DELETED", object, nullptr);
  if (type.plural == "pods") sim_pods_.erase(Uid(object));
}

std::optional<ApiError> TestApiServer::Impl::AdmitObject(const ResourceType& type, json& object, const json* existing,
                                                         const std::string& name, std::vector<FieldCause> causes,
                                                         bool strict) {
  if (type.custom) {
    std::vector<std::string> unknown = PruneUnknownFields(object, type.schema);
    if (strict && !unknown.empty()) {
      // fieldValidation=Strict (kubectl's default): unknown fields are an error, not pruned.
      std::string fields;
      for (const auto& f : unknown) fields += (fields.empty() ? "" : ", ") + ("unknown field \"" + f + "\"");
      return BadRequest(type.kind + " in version \"" + type.version + "\" cannot be handled as a " + type.kind +
                        ": strict decoding error: " + fields);
    }
    ApplyDefaults(object, type.schema);
    auto more = ValidateAgainstSchema(object, type.schema);
    causes.insert(causes.end(), more.begin(), more.end());
  } else if (type.plural == "customresourcedefinitions") {
    ResourceType crd_type;
    if (auto err = CrdToType(object, &crd_type)) return err;
  } else if (existing == nullptr) {
    PrepareBuiltinCreate(type, object, &causes);
  } else {
    ValidateBuiltinUpdate(type, *existing, object, &causes);
  }
  if (!causes.empty()) return InvalidError(type, name, causes);
  return std::nullopt;
}

}  // namespace ringleader::testapi
