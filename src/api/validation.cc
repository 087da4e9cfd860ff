#include "ringleader/api/validation.h"

#include <algorithm>
#include <optional>
#include <set>

#include "json_reader.h"
#include "validation_wording.h"
#include "ringleader/api/codec.h"
#include "ringleader/common/split.h"
#include "ringleader/api/limits.h"
#include "ringleader/api/worker_env_builder.h"

namespace ringleader::api {

using nlohmann::json;

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Lowercase letters, digits and '-', starting and ending with a letter or digit.
bool IsDnsLabelSyntax(const std::string& s) {
  return !s.empty() && IsLowerAlnum(s.front()) && IsLowerAlnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// RFC 1123 label: what Kubernetes requires of container names, hostnames and namespaces.
std::string CheckDnsLabel(const std::string& s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > limits::kMaxDnsLabelLength) return TooLong(limits::kMaxDnsLabelLength, s.size());
  if (!IsDnsLabelSyntax(s)) {
    return "must be a DNS label (lowercase letters, digits and '-', starting and ending with a "
           "letter or digit), got \"" +
           s + "\"";
  }
  return "";
}

// RFC 1123 subdomain: names of PriorityClasses, queues, schedulers. Like Kubernetes'
// IsDNS1123Subdomain, only the whole name is limited (253), not each dot-separated part.
std::string CheckDnsSubdomain(const std::string& s, size_t max_length) {
  if (s.size() > max_length) return TooLong(max_length, s.size());
  for (const std::string& label : Split(s, '.')) {
    if (!IsDnsLabelSyntax(label)) {
      return "must be a DNS subdomain (lowercase letters, digits, '-' and '.'), got \"" + s + "\"";
    }
  }
  return "";
}

void CheckRange(std::vector<FieldError>* errors, const std::string& field, int64_t value,
                int64_t min, int64_t max) {
  if (value < min || value > max) {
    errors->push_back({field, "must be " + std::to_string(min) + ".." + std::to_string(max) +
                                  ", got " + std::to_string(value)});
  }
}

// "must be a list, got string": the wording of every type error, as the decoder writes them.
std::string WrongType(const char* expected, const json& got) {
  return std::string("must be ") + expected + ", got " + internal::JsonTypeName(got);
}

// Whether compact JSON of `value` is longer than `limit` bytes. It stops counting once past
// the limit, so measuring a huge object costs no more than the limit. Strings count without
// escapes, which makes this a lower bound: what passes may serialize a little longer.
bool JsonSizeExceeds(const json& value, size_t limit) {
  size_t size = 0;
  // Iterative, so deep nesting cannot exhaust the stack.
  std::vector<const json*> pending = {&value};
  while (!pending.empty() && size <= limit) {
    const json* v = pending.back();
    pending.pop_back();
    switch (v->type()) {
      case json::value_t::object:
        size += 2;  // {}
        for (auto it = v->begin(); it != v->end(); ++it) {
          size += it.key().size() + 4;  // "key": and a comma
          if (size > limit) break;
          pending.push_back(&it.value());
        }
        break;
      case json::value_t::array:
        size += 2;  // []
        for (const json& item : *v) {
          if (++size > limit) break;  // a comma
          pending.push_back(&item);
        }
        break;
      case json::value_t::string:
        size += v->get_ref<const std::string&>().size() + 2;
        break;
      default:
        size += v->dump().size();  // numbers, booleans, null: a few bytes
        break;
    }
  }
  return size > limit;
}

// A string field the Pod API requires (container name and image, env name): reports it
// missing, of another type or longer than `max_length`, and returns it only when it passed.
std::optional<std::string> RequiredString(const json& object, const char* key,
                                          const std::string& path, size_t max_length,
                                          std::vector<FieldError>* errors) {
  const std::string field = path + "." + key;
  auto it = object.find(key);
  if (it == object.end() || it->is_null() ||
      (it->is_string() && it->get_ref<const std::string&>().empty())) {
    errors->push_back({field, "required"});
    return std::nullopt;
  }
  if (!it->is_string()) {
    errors->push_back({field, WrongType("a string", *it)});
    return std::nullopt;
  }
  const std::string& value = it->get_ref<const std::string&>();
  if (value.size() > max_length) {
    errors->push_back({field, TooLong(max_length, value.size())});
    return std::nullopt;
  }
  return value;
}

// Labels and annotations of the pod template: an object of strings, as the CRD declares.
// Returns the object when it is one, for the rules on its keys.
const json* StringMap(const json& meta, const char* key, size_t max_value_length,
                      std::vector<FieldError>* errors) {
  const std::string path = std::string("spec.template.metadata.") + key;
  auto it = meta.find(key);
  if (it == meta.end() || it->is_null()) return nullptr;
  if (!it->is_object()) {
    errors->push_back({path, WrongType("an object", *it)});
    return nullptr;
  }
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    if (!entry.value().is_string()) {
      errors->push_back({path + "." + entry.key(), WrongType("a string", entry.value())});
    } else if (entry.value().get_ref<const std::string&>().size() > max_value_length) {
      errors->push_back(
          {path + "." + entry.key(),
           TooLong(max_value_length, entry.value().get_ref<const std::string&>().size())});
    }
  }
  return &*it;
}

size_t DecimalDigits(int64_t v) { return std::to_string(std::max<int64_t>(v, 0)).size(); }

void ValidateName(const TrainingJob& job, std::vector<FieldError>* errors) {
  const std::string& name = job.metadata.name;
  if (name.empty()) {
    errors->push_back({"metadata.name", "required"});
    return;
  }
  // The job name is also the headless Service's name, which must be a DNS-1035 label.
  std::string problem = CheckDnsLabel(name);
  if (problem.empty() && !(name.front() >= 'a' && name.front() <= 'z')) {
    problem =
        "must start with a lowercase letter (it names the job's Service), got \"" + name + "\"";
  }
  if (!problem.empty()) {
    errors->push_back({"metadata.name", problem});
    return;
  }
  // Worker pods are `<job>-worker-<rank>` and use that as their hostname (a DNS label).
  size_t longest =
      name.size() + std::string("-worker-").size() + DecimalDigits(job.spec.workers - 1);
  if (job.spec.workers >= limits::kMinWorkers && longest > limits::kMaxDnsLabelLength) {
    errors->push_back({"metadata.name", "too long: worker hostname \"" + name + "-worker-" +
                                            std::to_string(job.spec.workers - 1) + "\" would be " +
                                            std::to_string(longest) +
                                            " characters, the limit is 63"});
  }
  if (!job.metadata.namespace_.empty()) {
    std::string ns_problem = CheckDnsLabel(job.metadata.namespace_);
    if (!ns_problem.empty()) errors->push_back({"metadata.namespace", ns_problem});
  }
}

void ValidateEnv(const json& env, const std::string& path, std::vector<FieldError>* errors) {
  if (!env.is_array()) {
    errors->push_back({path, WrongType("a list", env)});
    return;
  }
  if (env.size() > limits::kMaxEnvPerContainer) {
    errors->push_back({path, "must have at most " + std::to_string(limits::kMaxEnvPerContainer) +
                                 " items, got " + std::to_string(env.size())});
  }
  const auto& injected = InjectedEnvNames();
  for (size_t i = 0; i < env.size(); ++i) {
    std::string item_path = path + "[" + std::to_string(i) + "]";
    const json& var = env[i];
    if (!var.is_object()) {
      errors->push_back({item_path, WrongType("an object", var)});
      continue;
    }
    auto name = RequiredString(var, "name", item_path, limits::kMaxEnvNameLength, errors);
    if (name && std::find(injected.begin(), injected.end(), *name) != injected.end()) {
      errors->push_back({item_path + ".name", "\"" + *name +
                                                  "\" is set by Ringleader for every worker and "
                                                  "cannot be overridden"});
    }
  }
}

// Rules for one entry of containers or initContainers. The operator appends its env to
// both lists (controller::BuildWorkerPod), so both get the injected-name rule; names must be
// unique across the two lists, as the Pod API requires.
void ValidateContainer(const json& c, const std::string& path, std::set<std::string>* names,
                       std::vector<FieldError>* errors) {
  if (!c.is_object()) {
    errors->push_back({path, WrongType("an object", c)});
    return;
  }
  // The length is CheckDnsLabel's to report, with the DNS label rule.
  if (auto name = RequiredString(c, "name", path, std::string::npos, errors)) {
    std::string problem = CheckDnsLabel(*name);
    if (!problem.empty()) errors->push_back({path + ".name", problem});
    if (!names->insert(*name).second) {
      errors->push_back({path + ".name", "duplicate container name \"" + *name + "\""});
    }
  }
  RequiredString(c, "image", path, limits::kMaxImageLength, errors);
  if (auto env = c.find("env"); env != c.end() && !env->is_null()) {
    ValidateEnv(*env, path + ".env", errors);
  }
}

void ValidateContainers(const json& spec, std::vector<FieldError>* errors) {
  std::set<std::string> names;
  const std::string path = "spec.template.spec.containers";
  auto it = spec.find("containers");
  if (it == spec.end() || it->is_null()) {
    errors->push_back({path, "required: at least one container"});
  } else if (!it->is_array()) {
    errors->push_back({path, WrongType("a list", *it)});
  } else {
    if (it->empty()) errors->push_back({path, "must have at least 1 container, got 0"});
    if (it->size() > limits::kMaxContainers) {
      errors->push_back({path, "must have at most " + std::to_string(limits::kMaxContainers) +
                                   " containers, got " + std::to_string(it->size())});
    }
    for (size_t i = 0; i < it->size(); ++i) {
      ValidateContainer((*it)[i], path + "[" + std::to_string(i) + "]", &names, errors);
    }
  }
  const std::string init_path = "spec.template.spec.initContainers";
  auto init = spec.find("initContainers");
  if (init == spec.end() || init->is_null()) return;
  if (!init->is_array()) {
    errors->push_back({init_path, WrongType("a list", *init)});
    return;
  }
  for (size_t i = 0; i < init->size(); ++i) {
    ValidateContainer((*init)[i], init_path + "[" + std::to_string(i) + "]", &names, errors);
  }
}

void ValidateTemplate(const json& tmpl, std::vector<FieldError>* errors) {
  if (!tmpl.is_object()) return;  // decoding already reported it
  if (auto meta = tmpl.find("metadata"); meta != tmpl.end() && !meta->is_null()) {
    if (!meta->is_object()) {
      errors->push_back({"spec.template.metadata", WrongType("an object", *meta)});
    } else {
      if (const json* labels = StringMap(*meta, "labels", limits::kMaxLabelValueLength, errors)) {
        for (auto l = labels->begin(); l != labels->end(); ++l) {
          if (l.key().rfind("ringleader.dev/", 0) == 0) {
            errors->push_back({"spec.template.metadata.labels." + l.key(),
                               "the ringleader.dev/ label prefix is reserved for the operator"});
          }
        }
      }
      StringMap(*meta, "annotations", std::string::npos, errors);
    }
  }
  auto spec = tmpl.find("spec");
  if (spec == tmpl.end() || spec->is_null()) {
    errors->push_back({"spec.template.spec", "required: a pod spec with at least one container"});
    return;
  }
  if (!spec->is_object()) {
    errors->push_back({"spec.template.spec", WrongType("an object", *spec)});
    return;
  }
  ValidateContainers(*spec, errors);
  // The operator owns these pod fields; accepting a user's value and overwriting it would
  // silently ignore it, so say so instead.
  // null is unset, as everywhere in the Kubernetes API.
  if (auto rp = spec->find("restartPolicy");
      rp != spec->end() && !rp->is_null() && *rp != "Never") {
    errors->push_back(
        {"spec.template.spec.restartPolicy",
         "must be Never or unset (Ringleader restarts whole gangs, not single pods), got " +
             rp->dump()});
  }
  for (const char* owned : {"hostname", "subdomain"}) {
    if (auto it = spec->find(owned); it != spec->end() && !it->is_null()) {
      errors->push_back({std::string("spec.template.spec.") + owned,
                         "must be unset: the operator sets it so workers can find each other"});
    }
  }
}

// A checkpoint directory the runtime can use as is: absolute (the container's working directory
// is the image's business), bounded, and without the components that would make two spellings
// of one directory look different ("." and "..") or a NUL the kernel would cut the path at.
std::string CheckCheckpointDir(const std::string& dir) {
  if (dir.empty()) return "";
  if (dir.size() > limits::kMaxCheckpointDirLength) {
    return "must be at most " + std::to_string(limits::kMaxCheckpointDirLength) +
           " characters, got " + std::to_string(dir.size());
  }
  if (dir[0] != '/') return "must be an absolute path (start with /), got \"" + dir + "\"";
  if (dir.find('\0') != std::string::npos) return "must not contain a NUL character";
  for (const std::string& part : Split(dir, '/')) {
    if (part == "." || part == "..") {
      return "must not contain \".\" or \"..\" components, got \"" + dir + "\"";
    }
  }
  return "";
}

}  // namespace

const std::vector<std::string>& InjectedEnvNames() {
  // BuildWorkerEnv's names, in its order: the builder is the one list.
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, value] : BuildWorkerEnv(TrainingJob{}, WorkerEnvParams{})) out.push_back(name);
    return out;
  }();
  return names;
}

std::vector<FieldError> ValidateTrainingJob(const TrainingJob& job) {
  std::vector<FieldError> errors;
  ValidateName(job, &errors);
  const TrainingJobSpec& s = job.spec;
  CheckRange(&errors, "spec.workers", s.workers, limits::kMinWorkers, limits::kMaxWorkers);
  CheckRange(&errors, "spec.processesPerWorker", s.processes_per_worker,
             limits::kMinProcessesPerWorker, limits::kMaxProcessesPerWorker);
  CheckRange(&errors, "spec.port", s.port, limits::kMinPort, limits::kMaxPort);
  CheckRange(&errors, "spec.gang.timeoutSeconds", s.gang.timeout_seconds,
             limits::kMinGangTimeoutSeconds, limits::kMaxGangTimeoutSeconds);
  struct NamedString {
    const char* field;
    const std::string* value;
    size_t max;
  };
  for (const NamedString& n :
       {NamedString{"spec.gang.queue", &s.gang.queue, limits::kMaxQueueNameLength},
        NamedString{"spec.gang.priorityClassName", &s.gang.priority_class_name,
                    limits::kMaxPriorityClassNameLength},
        NamedString{"spec.gang.schedulerName", &s.gang.scheduler_name,
                    limits::kMaxSchedulerNameLength}}) {
    if (n.value->empty()) continue;
    std::string problem = CheckDnsSubdomain(*n.value, n.max);
    if (!problem.empty()) errors.push_back({n.field, problem});
  }
  const RunPolicy& p = s.run_policy;
  CheckRange(&errors, "spec.runPolicy.backoffLimit", p.backoff_limit, limits::kMinBackoffLimit,
             limits::kMaxBackoffLimit);
  if (p.active_deadline_seconds && *p.active_deadline_seconds < limits::kMinActiveDeadlineSeconds) {
    errors.push_back({"spec.runPolicy.activeDeadlineSeconds",
                      "must be at least 1, got " + std::to_string(*p.active_deadline_seconds)});
  }
  if (p.ttl_seconds_after_finished &&
      *p.ttl_seconds_after_finished < limits::kMinTtlSecondsAfterFinished) {
    errors.push_back(
        {"spec.runPolicy.ttlSecondsAfterFinished",
         "must not be negative, got " + std::to_string(*p.ttl_seconds_after_finished)});
  }
  CheckRange(&errors, "spec.runPolicy.inPlaceRestarts", p.in_place_restarts,
             limits::kMinInPlaceRestarts, limits::kMaxInPlaceRestarts);
  if (std::string problem = CheckCheckpointDir(s.checkpoint_dir); !problem.empty()) {
    errors.push_back({"spec.checkpointDir", problem});
  }
  // issue 14: stalls
  if (p.progress_deadline_seconds && *p.progress_deadline_seconds < limits::kMinProgressDeadlineSeconds) {
    errors.push_back({"spec.runPolicy.progressDeadlineSeconds",
                      "must be at least " + std::to_string(limits::kMinProgressDeadlineSeconds) +
                          " (twice the runtime's 15 s progress report period), got " +
                          std::to_string(*p.progress_deadline_seconds)});
  }
  ValidateTemplate(s.pod_template, &errors);
  return errors;
}

TrainingJob ParseTrainingJob(const json& object, std::vector<FieldError>* errors) {
  // The API server stores objects up to ~1.5 MiB and every worker Pod copies the template, so
  // the spec gets the cap a YAML file gets (limits::kMaxInputBytes) whichever way it arrives.
  // Only the spec counts: status and metadata.managedFields are written by the operator and the
  // API server, and must not make a user's job invalid. The decoded job is still returned (its
  // metadata and runPolicy are what the operator needs to fail and expire it), but one clear
  // error replaces the flood of rule violations a huge spec may hold.
  if (auto spec = object.find("spec"); object.is_object() && spec != object.end() &&
                                       JsonSizeExceeds(*spec, limits::kMaxInputBytes)) {
    std::vector<FieldError> ignored;
    TrainingJob job = DecodeTrainingJob(object, &ignored);
    errors->push_back({"spec", "must be at most " + std::to_string(limits::kMaxInputBytes) +
                                   " bytes (1 MiB) as JSON"});
    return job;
  }
  TrainingJob job = DecodeTrainingJob(object, errors);
  // A field that failed to decode is already reported: validating the default that replaced
  // it would repeat the problem as a range error ("spec.workers: must be 1..4096, got 0"), and
  // so would the rules on anything below it (spec: [] leaves no template to check).
  std::set<std::string> decode_failed;
  for (const FieldError& e : *errors) decode_failed.insert(e.field);
  auto below_decode_error = [&](const std::string& field) {
    if (decode_failed.count("") || decode_failed.count(field)) return true;
    for (size_t i = 0; i < field.size(); ++i) {
      if ((field[i] == '.' || field[i] == '[') && decode_failed.count(field.substr(0, i))) {
        return true;
      }
    }
    return false;
  };
  for (FieldError& e : ValidateTrainingJob(job)) {
    if (!below_decode_error(e.field)) errors->push_back(std::move(e));
  }
  return job;
}

StatusOr<TrainingJob> ParseTrainingJob(const json& object) {
  std::vector<FieldError> errors;
  TrainingJob job = ParseTrainingJob(object, &errors);
  if (!errors.empty()) return InvalidArgumentError(JoinFieldErrors(errors));
  return job;
}

}  // namespace ringleader::api
