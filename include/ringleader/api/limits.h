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
// Kubernetes object names in DNS-1123 subdomains are at most 253 characters.
inline constexpr size_t kMaxQueueNameLength = 253;
inline constexpr size_t kMaxPriorityClassNameLength = 253;
inline constexpr size_t kMaxSchedulerNameLength = 253;
// Pod hostnames are DNS labels (63); `<job>-worker-<rank>` must fit.
inline constexpr size_t kMaxDnsLabelLength = 63;
inline constexpr size_t kMaxContainers = 64;
inline constexpr size_t kMaxEnvPerContainer = 1024;
inline constexpr size_t kMaxConditions = 16;
// etcd rejects objects above ~1.5 MiB; refuse input beyond 1 MiB before parsing it.
inline constexpr size_t kMaxInputBytes = 1 << 20;

}  // namespace ringleader::api::limits
