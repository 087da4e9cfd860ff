#include "ringleader/runtime/rendezvous/store.h"

namespace ringleader::runtime {

StatusOr<std::vector<std::string>> GetAll(Store& store, const std::vector<std::string>& keys,
                                          Deadline deadline) {
  std::vector<std::string> values;
  values.reserve(keys.size());
  for (const auto& key : keys) {
    auto value = store.Get(key, deadline);
    if (!value.ok()) {
      if (value.status().code() != StatusCode::kDeadlineExceeded) return value.status();
      std::string missing;
      auto present = store.Check(keys);
      if (present.ok()) {
        for (size_t i = 0; i < keys.size(); ++i) {
          if (!(*present)[i]) missing += (missing.empty() ? "" : ", ") + keys[i];
        }
      }
      return DeadlineExceededError("timed out waiting for keys: " + missing);
    }
    values.push_back(std::move(*value));
  }
  return values;
}

}  // namespace ringleader::runtime
