#include "ringleader/runtime/collectives/mpi_communicator.h"

#include <mpi.h>

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdint>
#include <string>

#include "ringleader/common/worker_contract.h"

namespace ringleader::runtime {

namespace {

void SumHalf(void* in, void* inout, int* len, MPI_Datatype*) {
  ReduceInto(inout, in, static_cast<size_t>(*len), DataType::kFloat16);
}
void SumBFloat16(void* in, void* inout, int* len, MPI_Datatype*) {
  ReduceInto(inout, in, static_cast<size_t>(*len), DataType::kBFloat16);
}

std::string MpiErrorText(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return std::string(text, len);
}

Status MpiError(const char* what, int rc) {
  return AbortedError(std::string(what) + ": " + MpiErrorText(rc));
}

}  // namespace

StatusOr<std::unique_ptr<MpiCommunicator>> MpiCommunicator::Create(std::chrono::milliseconds timeout) {
  std::unique_ptr<MpiCommunicator> comm(new MpiCommunicator());
  comm->timeout_ = timeout;
  int initialized = 0;
  MPI_Initialized(&initialized);
  int provided = MPI_THREAD_SINGLE;
  if (!initialized) {
    // SERIALIZED, not FUNNELED: GradientAverager's overlap thread runs the bucket all-reduces
    // while the training thread runs the others (never at the same time).
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
      return InternalError("MPI_Init_thread: " + MpiErrorText(rc));
    }
    comm->owns_init_ = true;
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_SERIALIZED) {
    return InvalidArgumentError(
        "the MPI library provides thread level " + std::to_string(provided) +
        ", the mpi backend needs MPI_THREAD_SERIALIZED (" + std::to_string(MPI_THREAD_SERIALIZED) +
        ") because collectives run on GradientAverager's thread; use an MPI built with thread "
        "support" +
        (initialized ? " or initialise MPI with MPI_Init_thread(MPI_THREAD_SERIALIZED)" : ""));
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &comm->rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &comm->size_);
  if (timeout.count() > 0) comm->watchdog_ = std::thread([c = comm.get()] { c->Watch(); });
  return comm;
}

void MpiCommunicator::Arm(const char* what, size_t count) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = true;
  what_ = what;
  count_ = count;
  deadline_ = std::chrono::steady_clock::now() + timeout_;
  cv_.notify_all();
}

void MpiCommunicator::Disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
}

void MpiCommunicator::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (!armed_) {
      cv_.wait(lock);
      continue;
    }
    const auto deadline = deadline_;
    if (cv_.wait_until(lock, deadline, [&] { return stopping_ || !armed_ || deadline_ != deadline; })) continue;
    std::fprintf(stderr,
                 "ringleader-worker: rank %d: %s of %zu elements timed out after %llds: a peer rank stopped "
                 "responding (MPI cannot tell which); exiting so the gang restarts\n",
                 rank_, what_, count_, static_cast<long long>(timeout_.count() / 1000));
    std::fflush(stderr);
    _exit(contract::kExitPeerFailed);
  }
}

MpiCommunicator::~MpiCommunicator() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (watchdog_.joinable()) watchdog_.join();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_init_ && !finalized) MPI_Finalize();
}

Status MpiCommunicator::AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) {
  if (count == 0) return Status::Ok();
  MPI_Datatype mpi_type = MPI_DATATYPE_NULL;
  MPI_Op mpi_op = MPI_SUM;
  MPI_Op custom = MPI_OP_NULL;
  switch (type) {
    case DataType::kFloat32: mpi_type = MPI_FLOAT; break;
    case DataType::kFloat64: mpi_type = MPI_DOUBLE; break;
    case DataType::kInt32: mpi_type = MPI_INT32_T; break;
    case DataType::kInt64: mpi_type = MPI_INT64_T; break;
    case DataType::kFloat16:
    case DataType::kBFloat16:
      mpi_type = MPI_UINT16_T;
      MPI_Op_create(type == DataType::kFloat16 ? SumHalf : SumBFloat16, /*commute=*/1, &custom);
      mpi_op = custom;
      break;
  }
  char* data = static_cast<char*>(buffer);
  const size_t esize = DataTypeSize(type);
  Status status = Status::Ok();
  Arm("MPI_Allreduce", count);
  // MPI counts are int: large buffers go in INT_MAX-element pieces.
  for (size_t done = 0; done < count && status.ok();) {
    const int n = static_cast<int>(std::min<size_t>(count - done, INT_MAX / 2));
    int rc = MPI_Allreduce(MPI_IN_PLACE, data + done * esize, n, mpi_type, mpi_op, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) status = MpiError("MPI_Allreduce", rc);
    done += static_cast<size_t>(n);
  }
  Disarm();
  if (custom != MPI_OP_NULL) MPI_Op_free(&custom);
  if (status.ok() && op == ReduceOp::kAverage) DivideInPlace(buffer, count, type, size_);
  return status;
}

Status MpiCommunicator::Barrier() {
  Arm("MPI_Barrier", 0);
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  Disarm();
  return rc == MPI_SUCCESS ? Status::Ok() : MpiError("MPI_Barrier", rc);
}

}  // namespace ringleader::runtime
