#include "ringleader/runtime/collectives/gpu_setup.h"

#include <charconv>
#include <map>

#include "ringleader/common/worker_contract.h"

namespace ringleader::runtime {

StatusOr<int> ChooseCudaDevice(int local_rank, int visible_devices) {
  if (visible_devices <= 0) {
    return InvalidArgumentError("the nccl backend needs a CUDA device; none is visible");
  }
  if (local_rank < 0) {
    return InvalidArgumentError("local rank " + std::to_string(local_rank) + " is negative");
  }
  if (local_rank < visible_devices) return local_rank;
  if (visible_devices == 1) return 0;
  return InvalidArgumentError(
      "local rank " + std::to_string(local_rank) + " needs its own GPU but this process sees " +
      std::to_string(visible_devices) +
      " CUDA devices: more local ranks than GPUs (lower " + contract::kEnvProcsPerWorker +
      " / --nproc, or let `ringleader-worker launch` give each rank one " +
      contract::kEnvCudaVisibleDevices + " entry)");
}

std::string EncodeGpuClaim(const GpuClaim& claim) { return claim.device + "|" + claim.host; }

StatusOr<GpuClaim> DecodeGpuClaim(int rank, std::string_view record) {
  const size_t bar = record.find('|');
  if (bar == std::string_view::npos || bar == 0 || bar + 1 == record.size()) {
    return InternalError("malformed GPU record of rank " + std::to_string(rank) + " in the store");
  }
  GpuClaim claim;
  claim.rank = rank;
  claim.device = std::string(record.substr(0, bar));
  claim.host = std::string(record.substr(bar + 1));
  return claim;
}

Status CheckDistinctGpus(const std::vector<GpuClaim>& claims) {
  std::map<std::pair<std::string, std::string>, int> owner;
  for (const GpuClaim& claim : claims) {
    auto [it, inserted] = owner.emplace(std::make_pair(claim.host, claim.device), claim.rank);
    if (!inserted) {
      return InvalidArgumentError(
          "ranks " + std::to_string(it->second) + " and " + std::to_string(claim.rank) +
          " would both drive GPU " + claim.device + " on host " + claim.host +
          ": NCCL needs one GPU per rank (more local ranks than GPUs: lower " +
          contract::kEnvProcsPerWorker + " / --nproc, or give each rank its own device)");
    }
  }
  return Status::Ok();
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = digit(hex[i]), low = digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return out;
}

std::string EncodeNcclBootstrap(std::string_view unique_id) { return "id:" + HexEncode(unique_id); }

std::string EncodeNcclBootstrapError(const Status& error) {
  return "error:" + std::to_string(static_cast<int>(error.code())) + ":" + error.message();
}

StatusOr<std::string> DecodeNcclBootstrap(std::string_view record, size_t id_bytes) {
  const auto malformed = [&](const std::string& why) {
    return InternalError("malformed NCCL bootstrap record from rank 0 (" + why + ")");
  };
  if (record.rfind("id:", 0) == 0) {
    std::optional<std::string> id = HexDecode(record.substr(3));
    if (!id.has_value()) return malformed("the unique id is not hex");
    if (id->size() != id_bytes) {
      return malformed("the unique id has " + std::to_string(id->size()) + " bytes, want " +
                       std::to_string(id_bytes));
    }
    return *id;
  }
  if (record.rfind("error:", 0) == 0) {
    const std::string_view rest = record.substr(6);
    int code = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), code);
    if (ec != std::errc() || end == rest.data() + rest.size() || *end != ':' ||
        code <= static_cast<int>(StatusCode::kOk) ||
        code > static_cast<int>(StatusCode::kUnimplemented)) {
      return malformed("bad error code");
    }
    const std::string_view message(end + 1, rest.data() + rest.size() - (end + 1));
    return Status(static_cast<StatusCode>(code), "rank 0: " + std::string(message));
  }
  return malformed("neither id: nor error:");
}

std::vector<int> RanksNotInCollective(const std::vector<std::optional<int64_t>>& reported,
                                      int64_t sequence, int self) {
  std::vector<int> missing;
  for (int r = 0; r < static_cast<int>(reported.size()); ++r) {
    if (r != self && reported[r] != sequence) missing.push_back(r);
  }
  return missing;
}

}  // namespace ringleader::runtime
