#pragma once
// Pure decisions of the GPU path: which CUDA device a process drives, whether two ranks would
// share one GPU, and the record through which rank 0 hands every rank the NCCL unique id (or
// the configuration error they must all report). They live outside the cuda_/nccl_ files so
// that they compile in every build and CPU-only tests reach them; nccl_communicator.cc does
// the I/O around them.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringleader/common/status.h"

namespace ringleader::runtime {

// The device of the process with `local_rank` (validated WorkerEnv::local_rank) when it sees
// `visible_devices` CUDA devices: device local_rank when it exists; device 0 when exactly one is
// visible (`ringleader-worker launch` gives each local rank its own CUDA_VISIBLE_DEVICES entry,
// and CheckDistinctGpus catches ranks that were given the same one). kInvalidArgument (a
// configuration error: exit 2, not retried) when no device is visible or when there are more
// local ranks than visible devices.
StatusOr<int> ChooseCudaDevice(int local_rank, int visible_devices);

// A rank's GPU as NCCL tells GPUs apart: the host (NCCL_HOSTID when set, which NCCL uses in
// place of its host hash, else the rendezvous host identity) and the device UUID.
struct GpuClaim {
  int rank = 0;
  std::string host;
  std::string device;
};
// "<device>|<host>" (a device UUID holds no '|').
std::string EncodeGpuClaim(const GpuClaim& claim);
// kInternal, naming the rank, for a record without a device or host.
StatusOr<GpuClaim> DecodeGpuClaim(int rank, std::string_view record);
// kInvalidArgument naming the ranks, the host and the device when two ranks would drive the
// same GPU: NCCL refuses that ("Duplicate GPU detected"), and its error would otherwise look
// like a transport failure and make the operator restart the gang over a configuration error.
Status CheckDistinctGpus(const std::vector<GpuClaim>& claims);

// Rank 0's record: "id:<hex of the unique id>" or "error:<status code number>:<message>".
std::string EncodeNcclBootstrap(std::string_view unique_id);
std::string EncodeNcclBootstrapError(const Status& error);
// The unique id (exactly id_bytes bytes), or the error rank 0 published (same code and
// message); kInternal for a malformed record. Never throws.
StatusOr<std::string> DecodeNcclBootstrap(std::string_view record, size_t id_bytes);

std::string HexEncode(std::string_view bytes);
// nullopt unless `hex` is an even number of hex digits.
std::optional<std::string> HexDecode(std::string_view hex);

// The ranks other than `self` that did not report waiting in collective number `sequence`
// (reported[r]: the collective rank r said it timed out in, nullopt when it said nothing): the
// ones the waiting ranks were waiting for.
std::vector<int> RanksNotInCollective(const std::vector<std::optional<int64_t>>& reported,
                                      int64_t sequence, int self);

}  // namespace ringleader::runtime
