#include "ringleader/api/codec.h"

#include "json_reader.h"

namespace ringleader::api {

using internal::JsonObjectReader;
using nlohmann::json;

namespace {

ObjectMeta DecodeMetadata(const json* object, std::vector<FieldError>* errors) {
  JsonObjectReader r(object, "metadata", errors);
  ObjectMeta m;
  m.name = r.String("name").value_or("");
  m.namespace_ = r.String("namespace").value_or("");
  m.uid = r.String("uid").value_or("");
  m.resource_version = r.String("resourceVersion").value_or("");
  m.generation = r.Int("generation").value_or(0);
  m.creation_timestamp = r.String("creationTimestamp").value_or("");
  m.deletion_timestamp = r.String("deletionTimestamp");
  m.labels = r.StringMap("labels").value_or(std::map<std::string, std::string>{});
  m.annotations = r.StringMap("annotations").value_or(std::map<std::string, std::string>{});
  // Other metadata (ownerReferences, finalizers, managedFields, ...) is the API server's.
  return m;
}

GangSpec DecodeGang(const json* object, std::vector<FieldError>* errors) {
  JsonObjectReader r(object, "spec.gang", errors);
  GangSpec g;
  g.scheduler = r.EnumValue<GangScheduler>("scheduler", GangSchedulerNames(), ParseGangScheduler)
                    .value_or(g.scheduler);
  g.timeout_seconds = r.Int("timeoutSeconds").value_or(g.timeout_seconds);
  g.queue = r.String("queue").value_or("");
  g.priority_class_name = r.String("priorityClassName").value_or("");
  g.scheduler_name = r.String("schedulerName").value_or("");
  r.RejectUnknownFields();
  return g;
}

RunPolicy DecodeRunPolicy(const json* object, std::vector<FieldError>* errors) {
  JsonObjectReader r(object, "spec.runPolicy", errors);
  RunPolicy p;
  p.backoff_limit = r.Int("backoffLimit").value_or(p.backoff_limit);
  p.restart_policy =
      r.EnumValue<RestartPolicy>("restartPolicy", RestartPolicyNames(), ParseRestartPolicy)
          .value_or(p.restart_policy);
  p.active_deadline_seconds = r.Int("activeDeadlineSeconds");
  p.ttl_seconds_after_finished = r.Int("ttlSecondsAfterFinished");
  p.clean_pod_policy =
      r.EnumValue<CleanPodPolicy>("cleanPodPolicy", CleanPodPolicyNames(), ParseCleanPodPolicy)
          .value_or(p.clean_pod_policy);
  p.suspend = r.Bool("suspend").value_or(false);
  p.progress_deadline_seconds = r.Int("progressDeadlineSeconds");  // issue 14
  p.success_policy =
      r.EnumValue<SuccessPolicy>("successPolicy", SuccessPolicyNames(), ParseSuccessPolicy)
          .value_or(p.success_policy);
  p.in_place_restarts = r.Int("inPlaceRestarts").value_or(p.in_place_restarts);
  r.RejectUnknownFields();
  return p;
}

TrainingJobSpec DecodeSpec(const json* object, std::vector<FieldError>* errors) {
  JsonObjectReader r(object, "spec", errors);
  TrainingJobSpec s;
  if (!r.present()) return s;
  auto workers = r.Int("workers");
  if (!workers && (object->find("workers") == object->end() || (*object)["workers"].is_null())) {
    r.AddError("workers", "required");
  }
  s.workers = workers.value_or(0);
  s.processes_per_worker = r.Int("processesPerWorker").value_or(s.processes_per_worker);
  s.port = r.Int("port").value_or(s.port);
  if (const json* t = r.Object("template")) {
    s.pod_template = *t;
  } else if (object->find("template") == object->end() || (*object)["template"].is_null()) {
    r.AddError("template", "required");
  }
  s.gang = DecodeGang(r.Object("gang"), errors);
  s.run_policy = DecodeRunPolicy(r.Object("runPolicy"), errors);
  s.checkpoint_dir = r.String("checkpointDir").value_or("");
  r.RejectUnknownFields();
  return s;
}

json EncodeCondition(const Condition& c) {
  json j = {{"type", c.type}, {"status", c.status}};
  if (!c.reason.empty()) j["reason"] = c.reason;
  if (!c.message.empty()) j["message"] = c.message;
  if (!c.last_transition_time.empty()) j["lastTransitionTime"] = c.last_transition_time;
  if (c.observed_generation != 0) j["observedGeneration"] = c.observed_generation;
  return j;
}

}  // namespace

json EncodeStatus(const TrainingJobStatus& s) {
  json j = json::object();
  if (s.phase) j["phase"] = ToString(*s.phase);
  if (!s.ready.empty()) j["ready"] = s.ready;
  if (!s.message.empty()) j["message"] = s.message;
  j["workers"] = {{"pending", s.workers.pending},
                  {"running", s.workers.running},
                  {"ready", s.workers.ready},
                  {"succeeded", s.workers.succeeded},
                  {"failed", s.workers.failed}};
  j["restarts"] = s.restarts;
  j["attempt"] = s.attempt;
  if (s.in_place_restarts != 0) j["inPlaceRestarts"] = s.in_place_restarts;  // issue 14
  if (!s.start_time.empty()) j["startTime"] = s.start_time;
  if (!s.completion_time.empty()) j["completionTime"] = s.completion_time;
  if (s.observed_generation != 0) j["observedGeneration"] = s.observed_generation;
  if (!s.conditions.empty()) {
    j["conditions"] = json::array();
    for (const Condition& c : s.conditions) j["conditions"].push_back(EncodeCondition(c));
  }
  if (s.progress) {
    j["progress"] = {{"step", s.progress->step},
                     {"loss", s.progress->loss},
                     {"samplesPerSecond", s.progress->samples_per_second}};
    if (!s.progress->updated_at.empty()) j["progress"]["updatedAt"] = s.progress->updated_at;
    // issue 14: in-place restarts
    if (s.progress->attempt != 0) j["progress"]["attempt"] = s.progress->attempt;
    if (s.progress->in_place_restarts != 0) j["progress"]["inPlaceRestarts"] = s.progress->in_place_restarts;
  }
  return j;
}

TrainingJobStatus DecodeStatus(const json& status, std::vector<FieldError>* errors) {
  TrainingJobStatus s;
  JsonObjectReader r(&status, "status", errors);
  if (!r.present()) return s;
  s.phase = r.EnumValue<JobPhase>("phase", JobPhaseNames(), ParseJobPhase);
  s.ready = r.String("ready").value_or("");
  s.message = r.String("message").value_or("");
  {
    JsonObjectReader w(r.Object("workers"), "status.workers", errors);
    s.workers.pending = static_cast<int32_t>(w.Int("pending").value_or(0));
    s.workers.running = static_cast<int32_t>(w.Int("running").value_or(0));
    s.workers.ready = static_cast<int32_t>(w.Int("ready").value_or(0));
    s.workers.succeeded = static_cast<int32_t>(w.Int("succeeded").value_or(0));
    s.workers.failed = static_cast<int32_t>(w.Int("failed").value_or(0));
  }
  s.restarts = static_cast<int32_t>(r.Int("restarts").value_or(0));
  s.attempt = static_cast<int32_t>(r.Int("attempt").value_or(0));
  s.in_place_restarts = static_cast<int32_t>(r.Int("inPlaceRestarts").value_or(0));  // issue 14
  s.start_time = r.String("startTime").value_or("");
  s.completion_time = r.String("completionTime").value_or("");
  s.observed_generation = r.Int("observedGeneration").value_or(0);
  if (const json* conditions = r.Array("conditions")) {
    for (size_t i = 0; i < conditions->size(); ++i) {
      JsonObjectReader c(&(*conditions)[i], "status.conditions[" + std::to_string(i) + "]", errors);
      Condition cond;
      cond.type = c.String("type").value_or("");
      cond.status = c.String("status").value_or("");
      cond.reason = c.String("reason").value_or("");
      cond.message = c.String("message").value_or("");
      cond.last_transition_time = c.String("lastTransitionTime").value_or("");
      cond.observed_generation = c.Int("observedGeneration").value_or(0);
      s.conditions.push_back(std::move(cond));
    }
  }
  if (const json* p = r.Object("progress")) {
    JsonObjectReader pr(p, "status.progress", errors);
    Progress progress;
    progress.step = pr.Int("step").value_or(0);
    progress.loss = pr.Number("loss").value_or(0);
    progress.samples_per_second = pr.Number("samplesPerSecond").value_or(0);
    progress.updated_at = pr.String("updatedAt").value_or("");
    // issue 14: in-place restarts
    progress.attempt = static_cast<int32_t>(pr.Int("attempt").value_or(0));
    progress.in_place_restarts = static_cast<int32_t>(pr.Int("inPlaceRestarts").value_or(0));
    s.progress = progress;
  }
  return s;
}

json EncodeSpec(const TrainingJobSpec& s) {
  json gang = {{"scheduler", ToString(s.gang.scheduler)},
               {"timeoutSeconds", s.gang.timeout_seconds}};
  if (!s.gang.queue.empty()) gang["queue"] = s.gang.queue;
  if (!s.gang.priority_class_name.empty()) gang["priorityClassName"] = s.gang.priority_class_name;
  if (!s.gang.scheduler_name.empty()) gang["schedulerName"] = s.gang.scheduler_name;
  const RunPolicy& p = s.run_policy;
  json run = {{"backoffLimit", p.backoff_limit},
              {"restartPolicy", ToString(p.restart_policy)},
              {"cleanPodPolicy", ToString(p.clean_pod_policy)},
              {"suspend", p.suspend},
              {"successPolicy", ToString(p.success_policy)}};
  if (p.active_deadline_seconds) run["activeDeadlineSeconds"] = *p.active_deadline_seconds;
  if (p.ttl_seconds_after_finished) run["ttlSecondsAfterFinished"] = *p.ttl_seconds_after_finished;
  run["inPlaceRestarts"] = p.in_place_restarts;
  if (p.progress_deadline_seconds) run["progressDeadlineSeconds"] = *p.progress_deadline_seconds;  // issue 14
  json spec = {{"workers", s.workers}, {"processesPerWorker", s.processes_per_worker},
               {"port", s.port},       {"template", s.pod_template},
               {"gang", gang},         {"runPolicy", run}};
  if (!s.checkpoint_dir.empty()) spec["checkpointDir"] = s.checkpoint_dir;
  return spec;
}

TrainingJob DecodeTrainingJob(const json& object, std::vector<FieldError>* errors) {
  TrainingJob job;
  JsonObjectReader r(&object, "", errors);
  if (!r.present()) return job;
  auto api_version = r.String("apiVersion");
  if (!api_version) {
    r.AddError("apiVersion", std::string("required: must be ") + kApiVersion);
  } else if (*api_version != kApiVersion) {
    r.AddError("apiVersion",
               "must be " + std::string(kApiVersion) + ", got \"" + *api_version + "\"");
  }
  auto kind = r.String("kind");
  if (!kind) {
    r.AddError("kind", "required: must be TrainingJob");
  } else if (*kind != kKind) {
    r.AddError("kind", "must be TrainingJob, got \"" + *kind + "\"");
  }
  job.metadata = DecodeMetadata(r.Object("metadata"), errors);
  const json* spec = r.Object("spec");
  // A spec of the wrong type is already reported by Object(); only an absent one is missing.
  if (spec == nullptr && (!object.contains("spec") || object["spec"].is_null())) {
    r.AddError("spec", "required");
  }
  job.spec = DecodeSpec(spec, errors);
  if (const json* status = r.Object("status")) {
    // Status is written by the operator; a malformed status must not make the spec invalid.
    std::vector<FieldError> status_errors;
    job.status = DecodeStatus(*status, &status_errors);
  }
  r.RejectUnknownFields();
  return job;
}

}  // namespace ringleader::api
