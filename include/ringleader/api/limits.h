#pragma once
// Bounds of the TrainingJob API. One source of truth for the C++ validation; the CRD test
// checks that crds/ringleader.dev_trainingjobs.yaml declares the same numbers.

#include <cstddef>
#include <cstdint>

namespace ringleader::api::limits {

inline constexpr int64_t kMinWorkers = 1;
inline constexpr int64_t kMaxWorkers = 4096;
inline constexpr int64_t kMinProcessesPerWorker = 1;
inline constexpr int64_t kMaxProcessesPerWorker = 64;
inline constexpr int64_t kMinPort = 1024;
inline constexpr int64_t kMaxPort = 65535;
inline constexpr int64_t kMinGangTimeoutSeconds = 1;
inline constexpr int64_t kMaxGangTimeoutSeconds = 86400;
inline constexpr int64_t kMinBackoffLimit = 0;
inline constexpr int64_t kMaxBackoffLimit = 1000;
inline constexpr int64_t kMinActiveDeadlineSeconds = 1;
inline constexpr int64_t kMinTtlSecondsAfterFinished = 0;
inline constexpr int64_t kMinInPlaceRestarts = 0;
inline constexpr int64_t kMaxInPlaceRestarts = 1000;
// spec.checkpointDir: an absolute path; Linux's PATH_MAX is 4096, leave room for file names.
inline constexpr size_t kMaxCheckpointDirLength = 1024;
// Twice the runtime's default progress report period (15 s): a healthy gang always reports
// within it. (issue 14)
inline constexpr int64_t kMinProgressDeadlineSeconds = 30;
// Kubernetes object names in DNS-1123 subdomains are at most 253 characters.
inline constexpr size_t kMaxQueueNameLength = 253;
inline constexpr size_t kMaxPriorityClassNameLength = 253;
inline constexpr size_t kMaxSchedulerNameLength = 253;
// Pod hostnames are DNS labels (63); `<job>-worker-<rank>` must fit.
inline constexpr size_t kMaxDnsLabelLength = 63;
inline constexpr size_t kMaxContainers = 64;
inline constexpr size_t kMaxEnvPerContainer = 1024;
// The CRD's maxLength on pod-template strings (those of the Pod API): image references,
// env var names (a C identifier in practice; the API allows 253) and label values.
inline constexpr size_t kMaxImageLength = 4096;
inline constexpr size_t kMaxEnvNameLength = 253;
inline constexpr size_t kMaxLabelValueLength = 63;
// Status bounds of the CRD. The operator writes status, so these bind it, not the user: a
// status write beyond them is refused by the API server (ValidateStatus checks them).
inline constexpr size_t kMaxConditions = 16;
inline constexpr size_t kMaxReadyLength = 32;
inline constexpr size_t kMaxStatusMessageLength = 32768;
inline constexpr size_t kMaxConditionReasonLength = 1024;
inline constexpr size_t kMaxConditionMessageLength = 32768;
// etcd rejects objects above ~1.5 MiB; refuse input beyond 1 MiB before parsing it.
inline constexpr size_t kMaxInputBytes = 1 << 20;
// YAML aliases can expand a small file enormously ("billion laughs"). The YAML loader counts
// scalar bytes plus one per node as it expands; a file without aliases costs at most ~1.5 per
// input byte (escapes such as "\L" grow), so twice the input limit never refuses one that
// passed the size check, and bounds what an alias-heavy one can make the loader allocate.
inline constexpr size_t kMaxYamlExpandedSize = 2 * kMaxInputBytes;
// Only an alias inside its own anchor (`&a [*a]`) nests this deep; Kubernetes objects nest a
// few dozen levels, and yaml-cpp's own parser refuses literal nesting beyond ~500.
inline constexpr size_t kMaxYamlDepth = 1000;

}  // namespace ringleader::api::limits
