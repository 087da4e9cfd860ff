#include "ringleader/api/quantity.h"

#include <cmath>
#include <map>
#include <regex>

namespace ringleader::api {

std::optional<int64_t> ParseQuantityMilli(const std::string& text) {
  static const std::regex kQuantity("^([+-]?[0-9]*\\.?[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+)?$");
  std::smatch m;
  if (!std::regex_match(text, m, kQuantity)) return std::nullopt;
  long double number = std::stold(m[1].str());
  const std::string suffix = m[2].str();
  // Kubernetes' quantity suffixes: decimal SI, binary SI, or a decimal exponent.
  static const std::map<std::string, long double> kScale = {
      {"", 1.0L},     {"m", 1e-3L},   {"k", 1e3L},    {"M", 1e6L},    {"G", 1e9L},
      {"T", 1e12L},   {"P", 1e15L},   {"E", 1e18L},   {"Ki", 0x1p10L}, {"Mi", 0x1p20L},
      {"Gi", 0x1p30L}, {"Ti", 0x1p40L}, {"Pi", 0x1p50L}, {"Ei", 0x1p60L}};
  const auto known = kScale.find(suffix);
  const long double scale =
      known != kScale.end() ? known->second : std::pow(10.0L, std::stold(suffix.substr(1)));
  long double milli = std::ceil(number * scale * 1000.0L - 1e-9L);  // Kubernetes rounds up
  if (milli > 9.2e18L || milli < -9.2e18L) return std::nullopt;
  return static_cast<int64_t>(milli);
}

std::string FormatQuantityMilli(int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

namespace {

ResourceList ContainerRequests(const nlohmann::json& container) {
  ResourceList out;
  auto resources = container.find("resources");
  if (resources == container.end() || !resources->is_object()) return out;
  for (const char* kind : {"limits", "requests"}) {  // requests override limits
    auto list = resources->find(kind);
    if (list == resources->end() || !list->is_object()) continue;
    for (auto it = list->begin(); it != list->end(); ++it) {
      std::optional<int64_t> q;
      if (it.value().is_string()) q = ParseQuantityMilli(it.value().get<std::string>());
      else if (it.value().is_number()) q = static_cast<int64_t>(std::ceil(it.value().get<double>() * 1000));
      if (q) out[it.key()] = *q;
    }
  }
  return out;
}

}  // namespace

ResourceList PodRequests(const nlohmann::json& pod_spec) {
  ResourceList total;
  if (!pod_spec.is_object()) return total;
  if (auto containers = pod_spec.find("containers"); containers != pod_spec.end() && containers->is_array()) {
    for (const auto& c : *containers) {
      for (const auto& [name, q] : ContainerRequests(c)) total[name] += q;
    }
  }
  if (auto inits = pod_spec.find("initContainers"); inits != pod_spec.end() && inits->is_array()) {
    for (const auto& c : *inits) {
      for (const auto& [name, q] : ContainerRequests(c)) total[name] = std::max(total[name], q);
    }
  }
  return total;
}

}  // namespace ringleader::api
