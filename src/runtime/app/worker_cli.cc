#include "ringleader/runtime/app/worker_cli.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "ringleader/common/worker_contract.h"
#include "ringleader/runtime/collectives/communicator.h"
#include "ringleader/runtime/app/exit_codes.h"
#include "ringleader/runtime/app/launcher.h"
#include "ringleader/runtime/app/progress_sink.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "ringleader/runtime/app/trainer.h"
#include "ringleader/runtime/rendezvous/worker_env_parser.h"
#ifdef RINGLEADER_HAVE_MPI
#include "ringleader/runtime/collectives/mpi_communicator.h"
#endif
#ifdef RINGLEADER_HAVE_NCCL
#include "ringleader/runtime/collectives/nccl_communicator.h"
#endif

namespace ringleader::runtime {

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  ringleader-worker train [--steps N] [--batch-size B] [--lr X] [--seed S]\n"
    "                          [--backend auto|tcp|shm|mpi|nccl] [--log-every N] [--hidden H]\n"
    "                          [--input-dim D] [--bucket-mb M] [--collective-timeout-seconds T]\n"
    "                          [--rendezvous-timeout-seconds T] [--shm-chunk-kb K] [--no-overlap]\n"
    "                          [--checkpoint-dir DIR] [--checkpoint-every N] [--checkpoint-keep K]\n"
    "                          [--device cpu|cuda] [--check-args]\n"
    "  ringleader-worker launch [--nproc N] [--grace-seconds S] [--max-restarts N]\n"
    "                           [--progress-timeout-seconds T] -- CMD [ARGS...]\n"
    "exit codes: 0 ok, 2 usage/config error, 143 stopped by SIGTERM after checkpointing\n"
    "            (retryable), 175 peer rank failed or a collective timed out (retryable),\n"
    "            176 rendezvous timed out (retryable), 177 this rank's transport or device\n"
    "            failed (retryable)\n";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "ringleader-worker: %s\n%s", message.c_str(), kUsage);
  return kExitUsageError;
}

// --name value / --name=value flags; `bool_flags` take no value.
struct Flags {
  std::map<std::string, std::string> values;
  std::vector<std::string> rest;  // after "--"
};

StatusOr<Flags> ParseFlags(int argc, char** argv, int first, const std::vector<std::string>& known,
                           const std::vector<std::string>& bool_flags) {
  Flags flags;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (int j = i + 1; j < argc; ++j) flags.rest.push_back(argv[j]);
      break;
    }
    if (arg.rfind("--", 0) != 0) return InvalidArgumentError("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const bool is_bool = std::find(bool_flags.begin(), bool_flags.end(), name) != bool_flags.end();
    if (!is_bool && std::find(known.begin(), known.end(), name) == known.end()) {
      return InvalidArgumentError("unknown flag --" + name);
    }
    if (is_bool) {
      flags.values[name] = "1";
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return InvalidArgumentError("flag --" + name + " needs a value");
      value = argv[++i];
    }
    flags.values[name] = value;
  }
  return flags;
}

template <typename T>
Status ReadNumber(const Flags& flags, const std::string& name, T* out, double min_value) {
  auto it = flags.values.find(name);
  if (it == flags.values.end()) return Status::Ok();
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0' || v < min_value) {
    return InvalidArgumentError("--" + name + "=" + it->second + " is not a number >= " +
                                std::to_string(min_value));
  }
  *out = static_cast<T>(v);
  return Status::Ok();
}

int Fail(int rank, const std::string& what, const Status& status, int code) {
  std::fprintf(stderr, "ringleader-worker: rank %d: %s: %s\n", rank, what.c_str(),
               status.message().c_str());
  return code;
}

// SIGTERM (eviction, preemption, suspend, the launcher stopping a gang): before training
// starts there is nothing to keep, so the process exits at once; during training the trainer
// finishes or abandons its step, checkpoints, and returns (kExitStopped).
std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_training{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

void OnTerminate(int) {
  if (!g_training.load()) _exit(kExitStopped);
  g_stop_requested.store(true);
}

void InstallStopHandler() {
  struct sigaction action {};
  action.sa_handler = OnTerminate;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

// The exit code for a finished, failed or stopped training run.
int TrainingExit(int rank, const StatusOr<TrainerResult>& result) {
  if (g_stop_requested.load()) {
    const int64_t step = result.ok() ? result->steps : -1;
    std::fprintf(stderr, "ringleader-worker: rank %d: stopped by SIGTERM%s\n", rank,
                 step >= 0 ? (" after step " + std::to_string(step)).c_str() : " mid-step");
    return kExitStopped;
  }
  if (!result.ok()) return Fail(rank, "training failed", result.status(), ExitCodeForFailure(result.status()));
  return kExitSuccess;
}

StatusOr<TrainerResult> RunGpuTrainerIfBuilt(const TrainerOptions& options, Communicator& comm,
                                             ProgressSink& sink) {
#ifdef RINGLEADER_HAVE_CUDA
  return RunGpuTrainer(options, comm, sink);
#else
  (void)options, (void)comm, (void)sink;
  return InvalidArgumentError("built without CUDA");
#endif
}

namespace {

// What `train`'s flags ask for.
struct TrainRequest {
  TrainerOptions trainer;
  CommunicatorOptions comm;
  double rendezvous_timeout_s = 300;
  bool use_gpu = false;
  bool check_args = false;
};

// Reads and checks `train`'s flags (not what this build supports, nor the environment);
// kInvalidArgument, a usage error, names the problem.
StatusOr<TrainRequest> ParseTrainRequest(int argc, char** argv) {
  auto flags = ParseFlags(
      argc, argv, 2,
      {"steps", "batch-size", "lr", "seed", "backend", "log-every", "hidden", "input-dim", "bucket-mb",
       "timeout-seconds", "collective-timeout-seconds", "rendezvous-timeout-seconds", "shm-chunk-kb", "device",
       "checkpoint-dir", "checkpoint-every", "checkpoint-keep"},
      {"no-overlap", "check-args"});
  if (!flags.ok()) return InvalidArgumentError(flags.status().message());
  TrainRequest request;
  TrainerOptions& options = request.trainer;
  double bucket_mb = 25, timeout_s = 60,
         shm_chunk_kb = CommunicatorOptions{}.shm_chunk_bytes / 1024.0;
  for (const Status& s :
       {ReadNumber(*flags, "steps", &options.steps, 0), ReadNumber(*flags, "batch-size", &options.batch_size, 1),
        ReadNumber(*flags, "lr", &options.lr, 0), ReadNumber(*flags, "seed", &options.seed, 0),
        ReadNumber(*flags, "log-every", &options.log_every, 0), ReadNumber(*flags, "hidden", &options.hidden, 1),
        ReadNumber(*flags, "input-dim", &options.input_dim, 1), ReadNumber(*flags, "bucket-mb", &bucket_mb, 0.001),
        ReadNumber(*flags, "timeout-seconds", &timeout_s, 0.01),
        ReadNumber(*flags, "collective-timeout-seconds", &timeout_s, 0.01),
        ReadNumber(*flags, "checkpoint-every", &options.checkpoint_every, 0),
        ReadNumber(*flags, "checkpoint-keep", &options.checkpoint_keep, 1),
        ReadNumber(*flags, "rendezvous-timeout-seconds", &request.rendezvous_timeout_s, 0.01),
        ReadNumber(*flags, "shm-chunk-kb", &shm_chunk_kb, 4)}) {
    if (!s.ok()) return InvalidArgumentError(s.message());
  }
  options.bucket_bytes = static_cast<size_t>(bucket_mb * (1 << 20));
  options.overlap = flags->values.count("no-overlap") == 0;
  // The flag wins over the operator's RINGLEADER_CHECKPOINT_DIR (spec.checkpointDir).
  if (auto it = flags->values.find("checkpoint-dir"); it != flags->values.end()) {
    if (it->second.empty()) return InvalidArgumentError("--checkpoint-dir needs a directory");
    options.checkpoint_dir = it->second;
  } else if (const char* dir = std::getenv(contract::kEnvCheckpointDir); dir != nullptr) {
    options.checkpoint_dir = dir;
  }
  CommunicatorOptions& comm_options = request.comm;
  if (auto it = flags->values.find("backend"); it != flags->values.end()) {
    auto backend = ParseBackend(it->second);
    if (!backend.ok()) return InvalidArgumentError(backend.status().message());
    comm_options.backend = *backend;
  }
  const std::string device = flags->values.count("device") ? flags->values["device"] : "cpu";
  if (device != "cpu" && device != "cuda") return InvalidArgumentError("--device must be cpu or cuda");
  request.use_gpu = device == "cuda";
  const bool use_gpu = request.use_gpu;
  if (use_gpu && comm_options.backend != Backend::kAuto && comm_options.backend != Backend::kNccl) {
    return InvalidArgumentError("--device cuda averages device memory: use --backend nccl (or auto)");
  }
  if (!use_gpu && comm_options.backend == Backend::kNccl) {
    return InvalidArgumentError("the CPU trainer averages host memory; --backend nccl needs --device cuda");
  }
  request.check_args = flags->values.count("check-args") > 0;
  comm_options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  comm_options.shm_chunk_bytes = static_cast<size_t>(shm_chunk_kb * 1024);
  return request;
}

// Joins the gang's rendezvous, sets up the communicator and trains (every backend but mpi,
// which finds its peers through mpirun).
int TrainAfterRendezvous(const TrainRequest& request, StdoutProgressSink& sink,
                         const ProgressSinkFactory& extra_progress) {
  const TrainerOptions& options = request.trainer;
  const bool use_gpu = request.use_gpu;
  CommunicatorOptions comm_options = request.comm;
  auto from_env = RendezvousOptionsFromEnvironment();
  if (!from_env.ok()) return UsageError(from_env.status().message());
  RendezvousOptions& rdzv_options = *from_env;
  const WorkerEnv& env = rdzv_options.env;
  std::unique_ptr<ProgressSink> extra_sink = extra_progress ? extra_progress(env) : nullptr;
  TeeProgressSink tee({&sink, extra_sink.get()});
  ProgressSink& progress = extra_sink ? static_cast<ProgressSink&>(tee) : sink;
  rdzv_options.timeout = std::chrono::milliseconds(static_cast<int64_t>(request.rendezvous_timeout_s * 1000));
#ifdef RINGLEADER_HAVE_NCCL
  if (use_gpu) rdzv_options.gpu_count = CudaDeviceCount();
#endif
  auto rdzv = Rendezvous::Join(rdzv_options);
  if (!rdzv.ok()) {
    const int code = rdzv.status().code() == StatusCode::kInvalidArgument ? kExitUsageError
                                                                           : kExitRendezvousTimeout;
    return Fail(env.rank, "rendezvous failed", rdzv.status(), code);
  }
  comm_options.local_rank = env.local_rank;  // picks this rank's GPU (nccl)
  auto comm = CreateCommunicator(**rdzv, comm_options);
  if (!comm.ok()) {
    (*rdzv)->Leave();
    return Fail(env.rank, "communicator setup failed", comm.status(),
                ExitCodeForFailure(comm.status()));
  }
  g_training.store(true);
  auto result = use_gpu ? RunGpuTrainerIfBuilt(options, **comm, progress) : RunTrainer(options, **comm, progress);
  if (!result.ok() || result->stopped) {
    (*rdzv)->Leave();
    return TrainingExit(env.rank, result);
  }
  comm->reset();
  (*rdzv)->Finish();
  return kExitSuccess;
}

}  // namespace

int Train(int argc, char** argv, const ProgressSinkFactory& extra_progress) {
  auto request = ParseTrainRequest(argc, argv);
  if (!request.ok()) return UsageError(request.status().message());
  TrainerOptions& options = request->trainer;
  CommunicatorOptions& comm_options = request->comm;
  const bool use_gpu = request->use_gpu;
  // --check-args: the flags and their combination are valid (what this build supports and
  // the environment are not checked), so tests can check every example's command line.
  if (request->check_args) {
    std::printf("ringleader-worker: train arguments ok\n");
    return kExitSuccess;
  }
  if (use_gpu && !BackendCompiledIn(Backend::kNccl)) {
    return UsageError("--device cuda needs a build with CUDA and NCCL");
  }
  if (use_gpu) comm_options.backend = Backend::kNccl;
  StdoutProgressSink sink;
  options.stop_requested = &g_stop_requested;
  if (use_gpu && !options.checkpoint_dir.empty()) {
    std::fprintf(stderr, "ringleader-worker: warning: the GPU demo trainer does not checkpoint yet; "
                         "checkpoint directory %s is not used\n", options.checkpoint_dir.c_str());
  }
  if (!use_gpu) InstallStopHandler();

  if (comm_options.backend == Backend::kMpi) {
#ifdef RINGLEADER_HAVE_MPI
    auto comm = MpiCommunicator::Create(comm_options.timeout);
    if (!comm.ok())
      return Fail(-1, "MPI init failed", comm.status(), ExitCodeForFailure(comm.status()));
    g_training.store(true);
    auto result = RunTrainer(options, **comm, sink);
    return TrainingExit((*comm)->rank(), result);
#else
    return UsageError("this binary was built without MPI");
#endif
  }

  return TrainAfterRendezvous(*request, sink, extra_progress);
}


int Launch(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv, 2,
                          {"nproc", "grace-seconds", "max-restarts", "progress-timeout-seconds",
                           "restart-barrier-seconds"},
                          {});
  if (!flags.ok()) return UsageError(flags.status().message());
  if (flags->rest.empty()) return UsageError("launch needs a command after --");
  LaunchOptions options;
  options.command = flags->rest;
  // The Pod's environment (the operator's contract), validated like a rank's; flags win.
  const EnvLookup env = ProcessEnv();
  if (env(contract::kEnvNumWorkers).has_value()) {
    // The launcher is not a rank: it reads the Pod's contract as its local rank 0 would.
    const EnvLookup as_local_rank_zero = [&](const std::string& name) -> std::optional<std::string> {
      if (name == contract::kEnvLocalRank) return "0";
      if (name == contract::kEnvRank) {
        int worker = 0, ppw = 1;
        const std::string w = env(contract::kEnvWorkerRank).value_or("0");
        const std::string p = env(contract::kEnvProcsPerWorker).value_or("1");
        std::from_chars(w.data(), w.data() + w.size(), worker);
        std::from_chars(p.data(), p.data() + p.size(), ppw);
        return std::to_string(static_cast<int64_t>(worker) * ppw);
      }
      return env(name);
    };
    auto gang = ParseWorkerEnv(as_local_rank_zero);
    if (!gang.ok()) return UsageError(gang.status().message());
    options.worker_rank = gang->worker_rank;
    options.procs_per_worker = gang->procs_per_worker;
    options.num_workers = gang->num_workers;
    options.attempt = gang->attempt;
    options.master_addr = gang->master_addr;
    options.master_port = gang->master_port;
    auto rendezvous = RendezvousOptionsFromEnvironment(as_local_rank_zero);
    if (!rendezvous.ok()) return UsageError(rendezvous.status().message());
    options.store_listen_fd = rendezvous->store_listen_fd;
    if (auto port = env(contract::kEnvLauncherPort)) {
      const auto [ptr, ec] = std::from_chars(port->data(), port->data() + port->size(), options.launcher_port);
      if (port->empty() || ec != std::errc() || ptr != port->data() + port->size() || options.launcher_port < 1 ||
          options.launcher_port > 65535) {
        return UsageError(std::string(contract::kEnvLauncherPort) + "='" + *port + "' is not a port");
      }
    }
  } else {
    // Standalone (a test, or a Pod whose program is not Ringleader's): only the worker's place.
    for (auto [name, out, min] : {std::tuple{contract::kEnvWorkerRank, &options.worker_rank, 0},
                                  std::tuple{contract::kEnvProcsPerWorker, &options.procs_per_worker, 1}}) {
      const std::optional<std::string> raw = env(name);
      if (!raw.has_value()) continue;
      const auto [ptr, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), *out);
      if (raw->empty() || ec != std::errc() || ptr != raw->data() + raw->size() || *out < min) {
        return UsageError(std::string(name) + "='" + *raw + "' is not an integer >= " + std::to_string(min));
      }
    }
  }
  if (auto max = env(contract::kEnvMaxInPlaceRestarts)) {
    int value = 0;
    const auto [ptr, ec] = std::from_chars(max->data(), max->data() + max->size(), value);
    if (max->empty() || ec != std::errc() || ptr != max->data() + max->size() || value < 0) {
      return UsageError(std::string(contract::kEnvMaxInPlaceRestarts) + "='" + *max + "' is not an integer >= 0");
    }
    options.max_restarts = value;
  }
  if (auto policy = env(contract::kEnvRestartPolicy)) {
    if (*policy != "OnFailure" && *policy != "Never" && *policy != "ExitCode") {
      return UsageError(std::string(contract::kEnvRestartPolicy) + "='" + *policy +
                        "' must be OnFailure, Never or ExitCode");
    }
    options.restart_policy = *policy;
  }
  int nproc = 0;
  double grace = 10, progress_timeout = 0, barrier = 60;
  for (const Status& s : {ReadNumber(*flags, "nproc", &nproc, 1), ReadNumber(*flags, "grace-seconds", &grace, 0),
                          ReadNumber(*flags, "max-restarts", &options.max_restarts, 0),
                          ReadNumber(*flags, "progress-timeout-seconds", &progress_timeout, 0),
                          ReadNumber(*flags, "restart-barrier-seconds", &barrier, 0.1)}) {
    if (!s.ok()) return UsageError(s.message());
  }
  if (nproc > 0) options.procs_per_worker = nproc;
  options.grace = std::chrono::milliseconds(static_cast<int64_t>(grace * 1000));
  options.progress_timeout = std::chrono::milliseconds(static_cast<int64_t>(progress_timeout * 1000));
  options.barrier_timeout = std::chrono::milliseconds(static_cast<int64_t>(barrier * 1000));
  return RunLaunch(options);
}

}  // namespace

int WorkerMain(int argc, char** argv, const ProgressSinkFactory& extra_progress) {
  if (argc < 2) return UsageError("missing command");
  const std::string command = argv[1];
  if (command == "train") return Train(argc, argv, extra_progress);
  if (command == "launch") return Launch(argc, argv);
  if (command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return kExitSuccess;
  }
  return UsageError("unknown command '" + command + "'");
}

}  // namespace ringleader::runtime
