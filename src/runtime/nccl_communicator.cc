#include "ringleader/runtime/nccl_communicator.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "ringleader/runtime/cuda_kernels.h"
#include "ringleader/runtime/rendezvous.h"

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

std::string ToHex(const void* data, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[p[i] >> 4]);
    out.push_back(kDigits[p[i] & 15]);
  }
  return out;
}

bool FromHex(const std::string& hex, void* data, size_t n) {
  if (hex.size() != 2 * n) return false;
  auto* p = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return true;
}

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

}  // namespace

NcclCommunicator::NcclCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options)
    : rendezvous_(rendezvous), options_(options), rank_(rendezvous.rank()),
      size_(rendezvous.world_size()) {}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) {
    if (broken_.ok()) {
      ncclCommFinalize(comm_);
      ncclResult_t state = ncclInProgress;
      const Deadline deadline = DeadlineAfter(options_.timeout);
      while (state == ncclInProgress && Clock::now() < deadline) ncclCommGetAsyncError(comm_, &state);
      ncclCommDestroy(comm_);
    } else {
      ncclCommAbort(comm_);
    }
  }
  if (barrier_token_ != nullptr) cudaFree(barrier_token_);
  if (done_ != nullptr) cudaEventDestroy(done_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

StatusOr<std::unique_ptr<NcclCommunicator>> NcclCommunicator::Create(Rendezvous& rendezvous,
                                                                     const CommunicatorOptions& options) {
  const int devices = CudaDeviceCount();
  if (devices == 0) return InvalidArgumentError("the nccl backend needs a CUDA device; none is visible");
  std::unique_ptr<NcclCommunicator> comm(new NcclCommunicator(rendezvous, options));
  // With the launcher's CUDA_VISIBLE_DEVICES policy each process sees one device (0);
  // otherwise local ranks share the visible devices round-robin.
  const char* env_local = std::getenv("LOCAL_RANK");
  comm->device_ = (env_local != nullptr ? std::atoi(env_local) : 0) % devices;
  RL_CUDA_CHECK(cudaSetDevice(comm->device_));
  RL_CUDA_CHECK(cudaStreamCreateWithFlags(&comm->stream_, cudaStreamNonBlocking));
  RL_CUDA_CHECK(cudaEventCreateWithFlags(&comm->done_, cudaEventDisableTiming));
  RL_CUDA_CHECK(cudaMalloc(&comm->barrier_token_, sizeof(float)));

  const Deadline deadline = DeadlineAfter(options.timeout);
  ncclUniqueId id;
  const std::string key = rendezvous.Key("nccl/unique_id");
  if (comm->rank_ == 0) {
    RL_NCCL_CHECK(ncclGetUniqueId(&id));
    RETURN_IF_ERROR(rendezvous.store().Set(key, ToHex(&id, sizeof(id))));
  } else {
    auto hex = rendezvous.store().Get(key, deadline);
    if (!hex.ok()) return AbortedError(rendezvous.DescribePeerFailure(0, "waiting for the NCCL id: " + hex.status().message(), true));
    if (!FromHex(*hex, &id, sizeof(id))) return InternalError("malformed NCCL unique id in the store");
  }
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // so a missing peer cannot block us past the deadline
  RL_NCCL_CHECK(ncclCommInitRankConfig(&comm->comm_, comm->size_, id, comm->rank_, &config));
  RETURN_IF_ERROR(comm->WaitForNccl(deadline, "ncclCommInitRankConfig"));
  return comm;
}

Status NcclCommunicator::Abort(const std::string& why) {
  if (comm_ != nullptr) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }
  broken_ = AbortedError(rendezvous_.DescribePeerFailure(-1, why, /*timed_out=*/false));
  return broken_;
}

Status NcclCommunicator::WaitForNccl(Deadline deadline, const char* what) {
  ncclResult_t state = ncclInProgress;
  while (true) {
    if (ncclCommGetAsyncError(comm_, &state) != ncclSuccess) state = ncclSystemError;
    if (state == ncclSuccess) return Status::Ok();
    if (state != ncclInProgress) {
      return Abort(std::string(what) + " failed: " + ncclGetErrorString(state));
    }
    if (Clock::now() >= deadline) return Abort(std::string(what) + " timed out");
    std::this_thread::yield();
  }
}

Status NcclCommunicator::AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) {
  if (!broken_.ok()) return broken_;
  if (count == 0) return Status::Ok();
  ASSIGN_OR_RETURN(ncclDataType_t nccl_type, NcclType(type));
  const Deadline deadline = DeadlineAfter(options_.timeout);
  ncclResult_t rc = ncclAllReduce(buffer, buffer, count, nccl_type,
                                  op == ReduceOp::kAverage ? ncclAvg : ncclSum, comm_, stream_);
  if (rc != ncclSuccess && rc != ncclInProgress) {
    return Abort(std::string("ncclAllReduce: ") + ncclGetErrorString(rc));
  }
  if (rc == ncclInProgress) RETURN_IF_ERROR(WaitForNccl(deadline, "ncclAllReduce enqueue"));
  RL_CUDA_CHECK(cudaEventRecord(done_, stream_));
  // Watchdog: poll completion and NCCL's async error together, bounded by the timeout.
  while (true) {
    cudaError_t query = cudaEventQuery(done_);
    if (query == cudaSuccess) return Status::Ok();
    if (query != cudaErrorNotReady) return Abort(std::string("CUDA error: ") + cudaGetErrorString(query));
    ncclResult_t state = ncclSuccess;
    ncclCommGetAsyncError(comm_, &state);
    if (state != ncclSuccess && state != ncclInProgress) {
      return Abort(std::string("NCCL async error: ") + ncclGetErrorString(state));
    }
    if (Clock::now() >= deadline) {
      return Abort("ncclAllReduce did not complete within " + std::to_string(options_.timeout.count()) + " ms");
    }
    std::this_thread::yield();
  }
}

Status NcclCommunicator::Barrier() { return AllReduce(barrier_token_, 1, DataType::kFloat32, ReduceOp::kSum); }

}  // namespace ringleader::runtime
