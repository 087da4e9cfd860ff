#include "ringleader/runtime/collectives/nccl_communicator.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ringleader/runtime/collectives/gpu_setup.h"
#include "ringleader/runtime/rendezvous/rendezvous.h"

namespace ringleader::runtime {

int CudaDeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

namespace {

StatusOr<ncclDataType_t> NcclType(DataType type) {
  switch (type) {
    case DataType::kFloat32: return ncclFloat32;
    case DataType::kFloat64: return ncclFloat64;
    case DataType::kFloat16: return ncclFloat16;
    case DataType::kBFloat16: return ncclBfloat16;
    case DataType::kInt32: return ncclInt32;
    case DataType::kInt64: return ncclInt64;
  }
  return InvalidArgumentError("dtype not supported by NCCL");
}

// Polling that gives the core away: yields for the first polls (a collective often finishes
// within microseconds), then sleeps briefly so a long wait does not burn a core that a peer
// rank on the same host may need.
class Backoff {
 public:
  void Pause() {
    if (++polls_ < 1000) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

 private:
  int polls_ = 0;
};

// ncclSuccess when NCCL finished the pending operation, its error, or ncclInProgress when the
// deadline passed first.
ncclResult_t PollNccl(ncclComm_t comm, Deadline deadline) {
  Backoff backoff;
  while (true) {
    ncclResult_t state = ncclInProgress;
    if (ncclCommGetAsyncError(comm, &state) != ncclSuccess) return ncclSystemError;
    if (state != ncclInProgress) return state;
    if (Clock::now() >= deadline) return ncclInProgress;
    backoff.Pause();
  }
}

// The host NCCL tells GPUs apart by: NCCL_HOSTID replaces NCCL's host hash when set.
std::string NcclHost(const Rendezvous& rendezvous) {
  const char* host_id = std::getenv("NCCL_HOSTID");
  if (host_id != nullptr && *host_id != '\0') return std::string("NCCL_HOSTID=") + host_id;
  return rendezvous.peers()[rendezvous.rank()].host_id;
}

// How long the destructor waits for ncclCommFinalize before it aborts instead.
constexpr std::chrono::milliseconds kFinalizeLimit{10000};
// How long a rank that timed out waits for the others' timeout reports.
constexpr std::chrono::milliseconds kStallReportWindow{2000};

}  // namespace

NcclCommunicator::NcclCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options)
    : rendezvous_(rendezvous), options_(options), rank_(rendezvous.rank()),
      size_(rendezvous.world_size()) {}

NcclCommunicator::~NcclCommunicator() {
  (void)cudaSetDevice(device_);
  if (comm_ != nullptr) {
    bool clean = broken_.ok();
    if (clean) {
      const ncclResult_t started = ncclCommFinalize(comm_);
      clean = (started == ncclSuccess || started == ncclInProgress) &&
              PollNccl(comm_, DeadlineAfter(std::min(options_.timeout, kFinalizeLimit))) == ncclSuccess;
    }
    // After an error or a finalize that did not complete, ncclCommDestroy could wait for peers
    // that will never come: abort instead.
    if (clean) {
      ncclCommDestroy(comm_);
    } else {
      ncclCommAbort(comm_);
    }
    comm_ = nullptr;
  }
  if (barrier_token_ != nullptr) cudaFree(barrier_token_);
  if (inputs_ready_ != nullptr) cudaEventDestroy(inputs_ready_);
  if (done_ != nullptr) cudaEventDestroy(done_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

StatusOr<std::unique_ptr<NcclCommunicator>> NcclCommunicator::Create(Rendezvous& rendezvous,
                                                                     const CommunicatorOptions& options) {
  ASSIGN_OR_RETURN(const int device, ChooseCudaDevice(options.local_rank, CudaDeviceCount()));
  std::unique_ptr<NcclCommunicator> comm(new NcclCommunicator(rendezvous, options));
  comm->device_ = device;
  RETURN_IF_ERROR(comm->Init());
  return comm;
}

Status NcclCommunicator::Init() {
  RL_CUDA_CHECK(cudaSetDevice(device_));
  RL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  RL_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
  RL_CUDA_CHECK(cudaEventCreateWithFlags(&inputs_ready_, cudaEventDisableTiming));
  RL_CUDA_CHECK(cudaMalloc(&barrier_token_, sizeof(float)));
  cudaDeviceProp prop{};
  RL_CUDA_CHECK(cudaGetDeviceProperties(&prop, device_));

  const Deadline deadline = DeadlineAfter(options_.timeout);
  Store& store = rendezvous_.store();
  GpuClaim self;
  self.rank = rank_;
  self.host = NcclHost(rendezvous_);
  self.device = "GPU-" + HexEncode(std::string_view(prop.uuid.bytes, sizeof(prop.uuid.bytes)));
  RETURN_IF_ERROR(store.Set(rendezvous_.Key("nccl/gpu/" + std::to_string(rank_)), EncodeGpuClaim(self)));

  const std::string bootstrap_key = rendezvous_.Key("nccl/bootstrap");
  ncclUniqueId id;
  if (rank_ == 0) {
    // Rank 0 decides for everyone, so every rank reports the same configuration error.
    auto decide = [&]() -> StatusOr<std::string> {
      std::vector<GpuClaim> claims;
      for (int r = 0; r < size_; ++r) {
        auto record = store.Get(rendezvous_.Key("nccl/gpu/" + std::to_string(r)), deadline);
        if (!record.ok()) {
          return AbortedError(rendezvous_.DescribePeerFailure(
              r, "waiting for rank " + std::to_string(r) + "'s GPU: " + record.status().message(), true));
        }
        ASSIGN_OR_RETURN(GpuClaim claim, DecodeGpuClaim(r, *record));
        claims.push_back(std::move(claim));
      }
      RETURN_IF_ERROR(CheckDistinctGpus(claims));
      RL_NCCL_CHECK(ncclGetUniqueId(&id));
      return std::string(reinterpret_cast<const char*>(&id), sizeof(id));
    };
    StatusOr<std::string> decided = decide();
    RETURN_IF_ERROR(store.Set(bootstrap_key, decided.ok() ? EncodeNcclBootstrap(*decided)
                                                          : EncodeNcclBootstrapError(decided.status())));
    if (!decided.ok()) return decided.status();
  } else {
    auto record = store.Get(bootstrap_key, deadline);
    if (!record.ok()) {
      return AbortedError(rendezvous_.DescribePeerFailure(
          0, "waiting for the NCCL id: " + record.status().message(), true));
    }
    ASSIGN_OR_RETURN(const std::string bytes, DecodeNcclBootstrap(*record, sizeof(id)));
    std::memcpy(&id, bytes.data(), sizeof(id));
  }
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // so a missing peer cannot block us past the deadline
  RL_NCCL_CHECK(ncclCommInitRankConfig(&comm_, size_, id, rank_, &config));
  return WaitForNccl(deadline, "ncclCommInitRankConfig");
}

Status NcclCommunicator::Fail(Status error) {
  if (comm_ != nullptr) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }
  broken_ = std::move(error);
  return broken_;
}

Status NcclCommunicator::PeerFailure(const std::string& what, bool timed_out) {
  // NCCL does not say whom it waited for. Every rank that fails in a collective reports its
  // sequence number (a rank whose peer aborted first fails with an error, not a timeout, and
  // must still count as present); a rank that timed out gives the others a short window to
  // report, and the ranks that report nothing never reached the collective (hung elsewhere,
  // or gone).
  Store& store = rendezvous_.store();
  auto key = [&](int r) { return rendezvous_.Key("nccl/failed_in/" + std::to_string(r)); };
  (void)store.Set(key(rank_), std::to_string(sequence_));
  std::vector<int> missing;
  if (timed_out) {
    std::vector<std::string> keys;
    for (int r = 0; r < size_; ++r) keys.push_back(key(r));
    std::vector<std::optional<int64_t>> reported(size_);
    const Deadline window = DeadlineAfter(kStallReportWindow);
    while (true) {
      auto present = store.Check(keys);
      for (int r = 0; present.ok() && r < size_; ++r) {
        if (!(*present)[r] || reported[r].has_value()) continue;
        auto value = store.Get(keys[r], DeadlineAfter(std::chrono::seconds(1)));
        int64_t seq = -1;
        if (value.ok()) std::from_chars(value->data(), value->data() + value->size(), seq);
        reported[r] = seq;
      }
      missing = RanksNotInCollective(reported, sequence_, rank_);
      if (!present.ok() || missing.empty() || Clock::now() >= window) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string detail = what;
  if (!missing.empty()) {
    detail += "; ranks that did not reach it:";
    for (int r : missing) detail += " " + std::to_string(r);
  }
  const int suspect = missing.size() == 1 ? missing[0] : -1;
  return AbortedError(rendezvous_.DescribePeerFailure(suspect, detail, /*timed_out=*/false));
}

Status NcclCommunicator::WaitForNccl(Deadline deadline, const char* what) {
  const ncclResult_t state = PollNccl(comm_, deadline);
  if (state == ncclSuccess) return Status::Ok();
  if (state == ncclInProgress) {
    return Fail(PeerFailure(std::string(what) + " did not complete within " +
                                std::to_string(options_.timeout.count()) + " ms",
                            /*timed_out=*/true));
  }
  return Fail(PeerFailure(std::string(what) + " failed: " + ncclGetErrorString(state), false));
}

Status NcclCommunicator::AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) {
  if (!broken_.ok()) return broken_;
  if (count == 0) return Status::Ok();
  ASSIGN_OR_RETURN(ncclDataType_t nccl_type, NcclType(type));
  ++sequence_;
  Status status = AllReduceOnce(buffer, count, nccl_type, op);
  // A CUDA failure here is this rank's own (kInternal, exit 177); the communicator is not
  // reused after it either.
  if (!status.ok() && broken_.ok()) return Fail(status);
  return status;
}

Status NcclCommunicator::AllReduceOnce(void* buffer, size_t count, ncclDataType_t nccl_type,
                                       ReduceOp op) {
  const Deadline deadline = DeadlineAfter(options_.timeout);
  RL_CUDA_CHECK(cudaSetDevice(device_));  // the caller may be any thread (the averager's)
  // Our stream is non-blocking: make it wait for what the caller queued before this call
  // (a pageable cudaMemcpy may return before its DMA has landed).
  RL_CUDA_CHECK(cudaEventRecord(inputs_ready_, cudaStreamLegacy));
  RL_CUDA_CHECK(cudaStreamWaitEvent(stream_, inputs_ready_, 0));
  if (input_stream_ != nullptr) {
    RL_CUDA_CHECK(cudaEventRecord(inputs_ready_, input_stream_));
    RL_CUDA_CHECK(cudaStreamWaitEvent(stream_, inputs_ready_, 0));
  }
  const ncclResult_t rc = ncclAllReduce(buffer, buffer, count, nccl_type,
                                        op == ReduceOp::kAverage ? ncclAvg : ncclSum, comm_, stream_);
  if (rc != ncclSuccess && rc != ncclInProgress) {
    return Fail(PeerFailure(std::string("ncclAllReduce: ") + ncclGetErrorString(rc), false));
  }
  if (rc == ncclInProgress) RETURN_IF_ERROR(WaitForNccl(deadline, "ncclAllReduce enqueue"));
  RL_CUDA_CHECK(cudaEventRecord(done_, stream_));
  // Watchdog: poll completion and NCCL's async error together, bounded by the timeout.
  Backoff backoff;
  while (true) {
    const cudaError_t query = cudaEventQuery(done_);
    if (query == cudaSuccess) return Status::Ok();
    if (query != cudaErrorNotReady) {
      return Fail(InternalError(std::string("CUDA error during ncclAllReduce: ") + cudaGetErrorString(query)));
    }
    ncclResult_t state = ncclSuccess;
    ncclCommGetAsyncError(comm_, &state);
    if (state != ncclSuccess && state != ncclInProgress) {
      return Fail(PeerFailure(std::string("NCCL async error: ") + ncclGetErrorString(state), false));
    }
    if (Clock::now() >= deadline) {
      return Fail(PeerFailure("ncclAllReduce #" + std::to_string(sequence_) + " (" + std::to_string(count) +
                                  " elements) did not complete within " +
                                  std::to_string(options_.timeout.count()) + " ms",
                              /*timed_out=*/true));
    }
    backoff.Pause();
  }
}

Status NcclCommunicator::Barrier() { return AllReduce(barrier_token_, 1, DataType::kFloat32, ReduceOp::kSum); }

}  // namespace ringleader::runtime
