#include "kueue_quota.h"

#include <algorithm>

#include "ringleader/common/json_fields.h"
#include "server_impl.h"

namespace ringleader::testapi::kueue_quota {
namespace {

using json_fields::ArrayOrEmpty;
using json_fields::ObjectOrEmpty;
using json_fields::StringField;

// One pod's requests of a template: containers' requests (limits where requests are absent).
std::map<std::string, int64_t> PodRequests(const json& tmpl) {
  std::map<std::string, int64_t> out;
  const json& spec = ObjectOrEmpty(tmpl, "spec");
  for (const json& c : ArrayOrEmpty(spec, "containers")) {
    const json& res = ObjectOrEmpty(c, "resources");
    std::map<std::string, int64_t> one;
    for (const char* part : {"limits", "requests"}) {  // requests win
      for (const auto& [name, value] : ObjectOrEmpty(res, part).items()) {
        if (value.is_string())
          one[name] = ParseQuantityMilli(value.get<std::string>());
        else if (value.is_number())
          one[name] = static_cast<int64_t>(value.get<double>() * 1000);
      }
    }
    for (const auto& [name, milli] : one) out[name] += milli;
  }
  return out;
}

bool Tolerates(const json& tolerations, const json& taint) {
  for (const json& t : tolerations) {
    std::string effect = StringField(t, "effect");
    if (!effect.empty() && effect != StringField(taint, "effect")) continue;
    std::string op = StringField(t, "operator");
    if (op.empty()) op = "Equal";
    const std::string key = StringField(t, "key");
    if (op == "Exists") {
      if (key.empty() || key == StringField(taint, "key")) return true;
    } else if (key == StringField(taint, "key") && StringField(t, "value") == StringField(taint, "value")) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string FormatMilli(int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

bool AssignFlavors(const std::vector<PodSetNeed>& needs, const json& cq, const Usage& used,
                   const std::map<std::string, json>& flavors, std::vector<Assignment>* out, std::string* why) {
  Usage taken = used;
  out->clear();
  const json& groups = ArrayOrEmpty(ObjectOrEmpty(cq, "spec"), "resourceGroups");
  for (const PodSetNeed& need : needs) {
    Assignment a;
    a.pod_set = need.name;
    a.count = need.count;
    for (const json& group : groups) {
      std::vector<std::string> covered;
      for (const json& r : ArrayOrEmpty(group, "coveredResources")) {
        if (r.is_string()) covered.push_back(r.get<std::string>());
      }
      std::vector<std::string> wanted;
      for (const auto& [res, milli] : need.total) {
        if (milli > 0 && std::find(covered.begin(), covered.end(), res) != covered.end()) wanted.push_back(res);
      }
      if (wanted.empty()) continue;
      std::string first_shortage;
      bool placed = false;
      for (const json& fq : ArrayOrEmpty(group, "flavors")) {
        const std::string flavor = StringField(fq, "name");
        auto rf = flavors.find(flavor);
        if (rf == flavors.end()) continue;  // Kueue: the ClusterQueue is inactive (FlavorNotFound)
        const json& rf_spec = ObjectOrEmpty(rf->second, "spec");
        bool compatible = true;
        for (const auto& [key, value] : ObjectOrEmpty(rf_spec, "nodeLabels").items()) {
          if (need.node_selector.contains(key) && need.node_selector[key] != value) compatible = false;
        }
        json tolerations = need.tolerations;
        for (const json& t : ArrayOrEmpty(rf_spec, "tolerations")) tolerations.push_back(t);
        for (const json& taint : ArrayOrEmpty(rf_spec, "nodeTaints")) {
          std::string effect = StringField(taint, "effect");
          if ((effect == "NoSchedule" || effect == "NoExecute") && !Tolerates(tolerations, taint)) compatible = false;
        }
        if (!compatible) continue;
        std::string shortage;
        for (const std::string& res : wanted) {
          int64_t nominal = -1;
          for (const json& q : ArrayOrEmpty(fq, "resources")) {
            if (StringField(q, "name") != res) continue;
            const json& nq = q.contains("nominalQuota") ? q["nominalQuota"] : json();
            nominal = nq.is_string()   ? ParseQuantityMilli(nq.get<std::string>())
                      : nq.is_number() ? static_cast<int64_t>(nq.get<double>() * 1000)
                                       : 0;
          }
          int64_t in_use = 0;
          if (auto f = taken.find(flavor); f != taken.end()) {
            if (auto r = f->second.find(res); r != f->second.end()) in_use = r->second;
          }
          const int64_t want = need.total.at(res);
          if (nominal < 0 || in_use + want > nominal) {
            shortage = "insufficient unused quota for " + res + " in flavor " + flavor + ", " +
                       FormatMilli(in_use + want - std::max<int64_t>(nominal, 0)) + " more needed";
            break;
          }
        }
        if (!shortage.empty()) {
          if (first_shortage.empty()) first_shortage = shortage;
          continue;
        }
        for (const std::string& res : wanted) {
          a.flavors[res] = flavor;
          a.usage[res] = need.total.at(res);
          taken[flavor][res] += need.total.at(res);
        }
        placed = true;
        break;
      }
      if (!placed) {
        *why = "couldn't assign flavors to pod set " + need.name + ": " +
               (first_shortage.empty() ? "no flavor of the ClusterQueue matches its node selector and tolerations"
                                       : first_shortage);
        return false;
      }
    }
    for (const auto& [res, milli] : need.total) {
      if (milli > 0 && !a.flavors.count(res)) {
        *why = "couldn't assign flavors to pod set " + need.name + ": resource " + res + " unavailable in ClusterQueue";
        return false;
      }
    }
    out->push_back(std::move(a));
  }
  return true;
}

std::vector<PodSetNeed> NeedsOf(const json& wl) {
  std::vector<PodSetNeed> needs;
  for (const json& ps : ArrayOrEmpty(ObjectOrEmpty(wl, "spec"), "podSets")) {
    PodSetNeed need;
    need.name = StringField(ps, "name").empty() ? "main" : StringField(ps, "name");
    need.count = ps.contains("count") && ps["count"].is_number_integer() ? ps["count"].get<int64_t>() : 1;
    const json& tmpl = ObjectOrEmpty(ps, "template");
    for (const auto& [res, milli] : PodRequests(tmpl)) need.total[res] = milli * need.count;
    need.node_selector = ObjectOrEmpty(ObjectOrEmpty(tmpl, "spec"), "nodeSelector");
    need.tolerations = ArrayOrEmpty(ObjectOrEmpty(tmpl, "spec"), "tolerations");
    needs.push_back(std::move(need));
  }
  return needs;
}

void AddUsage(Usage& usage, const json& admission, int64_t sign) {
  for (const json& psa : ArrayOrEmpty(admission, "podSetAssignments")) {
    const json& flavors = ObjectOrEmpty(psa, "flavors");
    for (const auto& [res, qty] : ObjectOrEmpty(psa, "resourceUsage").items()) {
      if (!flavors.contains(res) || !flavors[res].is_string() || !qty.is_string()) continue;
      usage[flavors[res].get<std::string>()][res] += sign * ParseQuantityMilli(qty.get<std::string>());
    }
  }
}

json AdmissionOf(const std::string& cq_name, const std::vector<Assignment>& assigned) {
  json admission = {{"clusterQueue", cq_name}, {"podSetAssignments", json::array()}};
  for (const Assignment& a : assigned) {
    json fl = json::object(), use = json::object();
    for (const auto& [res, flavor] : a.flavors) fl[res] = flavor;
    for (const auto& [res, milli] : a.usage) use[res] = FormatMilli(milli);
    admission["podSetAssignments"].push_back(
        {{"name", a.pod_set}, {"flavors", fl}, {"resourceUsage", use}, {"count", a.count}});
  }
  return admission;
}

}  // namespace ringleader::testapi::kueue_quota
