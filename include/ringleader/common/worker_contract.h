#pragma once
// The contract between the operator (or local mode), the launcher and every worker process,
// written once: the environment names and the exit codes. The operator's builder (api::BuildWorkerEnv), the
// validator (a user may not set them), the runtime's parser (runtime::ParseWorkerEnv), the
// launcher and the trainer all spell a variable through these constants. docs/runtime.md
// ("Environment contract", "Exit codes") says what each one means.
//
// Header-only and free of dependencies, so the runtime-only build (CUDA + NCCL + CMake) has it.

namespace ringleader::contract {

// Injected into every worker Pod (and every local-mode worker) by the operator.
inline constexpr const char* kEnvJobName = "RINGLEADER_JOB_NAME";
inline constexpr const char* kEnvNamespace = "RINGLEADER_NAMESPACE";
inline constexpr const char* kEnvNumWorkers = "RINGLEADER_NUM_WORKERS";
inline constexpr const char* kEnvWorkerRank = "RINGLEADER_WORKER_RANK";
inline constexpr const char* kEnvProcsPerWorker = "RINGLEADER_PROCS_PER_WORKER";
inline constexpr const char* kEnvMasterAddr = "RINGLEADER_MASTER_ADDR";
inline constexpr const char* kEnvMasterPort = "RINGLEADER_MASTER_PORT";
inline constexpr const char* kEnvAttempt = "RINGLEADER_ATTEMPT";
// spec.checkpointDir ("" when unset): where the runtime keeps its checkpoints.
inline constexpr const char* kEnvCheckpointDir = "RINGLEADER_CHECKPOINT_DIR";
// spec.runPolicy.inPlaceRestarts: how often `ringleader-worker launch` may restart its
// processes in place before it exits and the operator restarts the gang's Pods.
inline constexpr const char* kEnvMaxInPlaceRestarts = "RINGLEADER_MAX_IN_PLACE_RESTARTS";
// spec.runPolicy.restartPolicy, so the launcher applies the operator's rules in place too.
inline constexpr const char* kEnvRestartPolicy = "RINGLEADER_RESTART_POLICY";
// PyTorch's and torchrun's names for the same facts.
inline constexpr const char* kEnvTorchMasterAddr = "MASTER_ADDR";
inline constexpr const char* kEnvTorchMasterPort = "MASTER_PORT";
inline constexpr const char* kEnvTorchWorldSize = "WORLD_SIZE";
inline constexpr const char* kEnvTorchRank = "RANK";
inline constexpr const char* kEnvPetNnodes = "PET_NNODES";
inline constexpr const char* kEnvPetNodeRank = "PET_NODE_RANK";
inline constexpr const char* kEnvPetNprocPerNode = "PET_NPROC_PER_NODE";
inline constexpr const char* kEnvPetMasterAddr = "PET_MASTER_ADDR";
inline constexpr const char* kEnvPetMasterPort = "PET_MASTER_PORT";

// Set per process by `ringleader-worker launch`.
inline constexpr const char* kEnvRank = "RINGLEADER_RANK";
inline constexpr const char* kEnvLocalRank = "RINGLEADER_LOCAL_RANK";
inline constexpr const char* kEnvTorchLocalRank = "LOCAL_RANK";
inline constexpr const char* kEnvTorchLocalWorldSize = "LOCAL_WORLD_SIZE";
// How many times the launcher restarted this gang attempt's processes in place (0 at first).
inline constexpr const char* kEnvInPlaceRestarts = "RINGLEADER_IN_PLACE_RESTARTS";
// "1" when the launcher of worker 0 serves the rendezvous store, so that rank 0 connects to it
// instead of serving it: the store outlives any training process.
inline constexpr const char* kEnvStoreHostedByLauncher = "RINGLEADER_STORE_HOSTED_BY_LAUNCHER";
// The port of the launchers' store on worker 0 (default: next to the master port, see
// runtime::LauncherStorePort); set by local mode and tests that hand worker 0 a socket.
inline constexpr const char* kEnvLauncherPort = "RINGLEADER_LAUNCHER_PORT";
// A listening socket handed to rank 0 (tests, benchmarks) instead of binding the master port.
inline constexpr const char* kEnvStoreFd = "RINGLEADER_STORE_FD";

// Knobs a user may set on a worker (not injected by the operator).
// "inherit": `ringleader-worker launch` leaves CUDA_VISIBLE_DEVICES as it found it instead of
// giving each local rank its own device (runtime/app/launcher.h says how it picks one).
inline constexpr const char* kEnvCudaVisibleDevicesPolicy = "RINGLEADER_CUDA_VISIBLE_DEVICES_POLICY";
// CUDA's own name for the devices a process may see.
inline constexpr const char* kEnvCudaVisibleDevices = "CUDA_VISIBLE_DEVICES";

// Exit codes of ringleader-worker (and of any program built on the runtime). The operator's
// ExitCode restart policy treats 128-255 as retryable (restart the whole gang) and 1-127 as
// permanent (fail the TrainingJob), so these numbers are part of the operator contract.
inline constexpr int kExitSuccess = 0;
// Bad flag or bad environment: retrying the same pod spec cannot help. Permanent.
inline constexpr int kExitUsageError = 2;
// A peer rank failed, disappeared or hung mid-collective. Retryable: restart the gang.
inline constexpr int kExitPeerFailed = 175;
// Rendezvous did not complete before its deadline (the message names the missing ranks).
// Retryable: a pod may have been slow to schedule.
inline constexpr int kExitRendezvousTimeout = 176;
// This rank's own collective transport or device failed: shm_open/mmap, CUDA or NCCL setup,
// MPI_Init, an unexpected connection on the ring. Not a configuration error (those are
// kExitUsageError), so retryable: the next attempt may land on a healthy node.
inline constexpr int kExitCommunicationFailed = 177;
// Stopped by SIGTERM (eviction, preemption, suspend, a gang stop) after checkpointing the last
// completed step: 128 + SIGTERM, as a process killed by it would report. Retryable.
inline constexpr int kExitStopped = 143;

}  // namespace ringleader::contract
