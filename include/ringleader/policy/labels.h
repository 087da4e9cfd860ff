#pragma once
// Label, annotation and gate names that the operator writes on the objects it owns.

namespace ringleader::controller {

// Every label and annotation Ringleader owns starts with this.
inline constexpr const char* kLabelPrefix = "ringleader.dev/";
inline constexpr const char* kJobNameLabel = "ringleader.dev/job-name";
inline constexpr const char* kRankLabel = "ringleader.dev/rank";
inline constexpr const char* kAttemptLabel = "ringleader.dev/attempt";
// Scheduling gate that holds every pod of a Builtin gang until all of them exist.
inline constexpr const char* kGangSchedulingGate = "ringleader.dev/gang";
// Volcano finds a pod's PodGroup through this annotation.
inline constexpr const char* kVolcanoGroupAnnotation = "scheduling.k8s.io/group-name";
// scheduler-plugins' coscheduling finds a pod's PodGroup through this label.
inline constexpr const char* kCoschedulingGroupLabel = "scheduling.x-k8s.io/pod-group";
inline constexpr const char* kVolcanoSchedulerName = "volcano";
inline constexpr const char* kCoschedulingSchedulerName = "scheduler-plugins-scheduler";
inline constexpr const char* kRendezvousPortName = "rendezvous";

}  // namespace ringleader::controller
