#include "ringleader/runtime/app/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace ringleader::runtime {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestMagic = "ringleader-checkpoint 1";
constexpr const char* kPayloadSuffix = ".ckpt";
constexpr const char* kManifestSuffix = ".manifest";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Writes `bytes` to `path` so that after a crash `path` is either absent/unchanged or complete:
// a temporary file in the same directory, fsync, rename, fsync of the directory (the rename
// itself is only durable once the directory is).
Status WriteFileAtomically(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string final_path = dir + "/" + name;
  const std::string tmp_path = dir + "/." + name + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return InternalError(Errno("creating " + tmp_path));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const Status error = InternalError(Errno("writing " + tmp_path));
      ::close(fd);
      ::unlink(tmp_path.c_str());
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const Status error = InternalError(Errno("fsync of " + tmp_path));
    ::close(fd);
    ::unlink(tmp_path.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    const Status error = InternalError(Errno("renaming " + tmp_path + " to " + final_path));
    ::unlink(tmp_path.c_str());
    return error;
  }
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return InternalError(Errno("opening " + dir));
  const int rc = ::fsync(dir_fd);
  ::close(dir_fd);
  if (rc != 0) return InternalError(Errno("fsync of " + dir));
  return Status::Ok();
}

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("missing");
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return InternalError("unreadable");
  return out.str();
}

struct Manifest {
  int64_t step = -1;
  int world_size = 0;
  int rank = -1;
  uint64_t payload_bytes = 0;
  std::string payload_fnv1a64;
  std::string fingerprint;
};

std::string EncodeManifest(const Manifest& m) {
  std::ostringstream out;
  out << kManifestMagic << "\n"
      << "step=" << m.step << "\n"
      << "world_size=" << m.world_size << "\n"
      << "rank=" << m.rank << "\n"
      << "payload_bytes=" << m.payload_bytes << "\n"
      << "payload_fnv1a64=" << m.payload_fnv1a64 << "\n"
      << "fingerprint=" << m.fingerprint << "\n"
      << "end\n";  // a manifest cut anywhere lacks this line
  return out.str();
}

bool ParseInt(const std::string& text, int64_t* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

StatusOr<Manifest> DecodeManifest(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kManifestMagic) return InvalidArgumentError("not a checkpoint manifest");
  std::map<std::string, std::string> fields;
  bool ended = false;
  while (std::getline(in, line)) {
    if (line == "end") {
      ended = true;
      break;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return InvalidArgumentError("malformed line \"" + line + "\"");
    fields[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (!ended) return InvalidArgumentError("truncated (no end line)");
  Manifest m;
  int64_t world = 0, rank = 0, bytes = 0;
  if (!ParseInt(fields["step"], &m.step) || m.step < 0) return InvalidArgumentError("bad step");
  if (!ParseInt(fields["world_size"], &world) || world < 1) return InvalidArgumentError("bad world_size");
  if (!ParseInt(fields["rank"], &rank) || rank < 0) return InvalidArgumentError("bad rank");
  if (!ParseInt(fields["payload_bytes"], &bytes) || bytes < 0) return InvalidArgumentError("bad payload_bytes");
  m.world_size = static_cast<int>(world);
  m.rank = static_cast<int>(rank);
  m.payload_bytes = static_cast<uint64_t>(bytes);
  m.payload_fnv1a64 = fields["payload_fnv1a64"];
  m.fingerprint = fields["fingerprint"];
  return m;
}

// "step-000000000050.manifest" -> 50; nullopt for other names.
std::optional<int64_t> StepOfManifest(const std::string& name) {
  const std::string prefix = "step-";
  const std::string suffix = kManifestSuffix;
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  int64_t step = 0;
  if (!ParseInt(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()), &step) || step < 0) {
    return std::nullopt;
  }
  return step;
}

}  // namespace

std::string Fnv1a64Hex(const void* bytes, size_t size) {
  uint64_t hash = 0xcbf29ce484222325ull;
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < size; ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016" PRIx64, hash);
  return hex;
}

std::string CheckpointPayloadName(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "step-%012" PRId64 "%s", step, kPayloadSuffix);
  return name;
}

std::string CheckpointManifestName(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "step-%012" PRId64 "%s", step, kManifestSuffix);
  return name;
}

StatusOr<CheckpointStore> CheckpointStore::Open(CheckpointOptions options) {
  if (options.dir.empty()) return InvalidArgumentError("checkpoint directory is empty");
  if (options.rank < 0 || options.world_size < 1 || options.rank >= options.world_size) {
    return InvalidArgumentError("checkpoint rank " + std::to_string(options.rank) + " of world size " +
                                std::to_string(options.world_size) + " is out of range");
  }
  if (options.keep < 1) return InvalidArgumentError("checkpoints to keep must be >= 1");
  if (options.fingerprint.find('\n') != std::string::npos) {
    return InvalidArgumentError("checkpoint fingerprint must not contain a newline");
  }
  const std::string rank_dir = options.dir + "/rank-" + std::to_string(options.rank);
  std::error_code ec;
  fs::create_directories(rank_dir, ec);
  if (ec) return InternalError("creating checkpoint directory " + rank_dir + ": " + ec.message());
  return CheckpointStore(std::move(options), rank_dir);
}

void CheckpointStore::Warn(const std::string& file, const std::string& why) {
  if (std::find(warned_.begin(), warned_.end(), file) != warned_.end()) return;
  warned_.push_back(file);
  const std::string line = "checkpoint " + file + " skipped: " + why;
  if (options_.warn) {
    options_.warn(line);
  } else {
    std::fprintf(stderr, "ringleader: warning: %s\n", line.c_str());
  }
}

Status CheckpointStore::Save(int64_t step, const std::string& payload) {
  if (step < 0) return InvalidArgumentError("checkpoint step must be >= 0");
  Manifest m;
  m.step = step;
  m.world_size = options_.world_size;
  m.rank = options_.rank;
  m.payload_bytes = payload.size();
  m.payload_fnv1a64 = Fnv1a64Hex(payload.data(), payload.size());
  m.fingerprint = options_.fingerprint;
  // A crash between the two writes leaves a payload without a manifest: not a checkpoint.
  RETURN_IF_ERROR(WriteFileAtomically(rank_dir_, CheckpointPayloadName(step), payload));
  RETURN_IF_ERROR(WriteFileAtomically(rank_dir_, CheckpointManifestName(step), EncodeManifest(m)));

  // Prune: keep the newest `keep` manifests; remove older checkpoints manifest first, so a crash
  // mid-prune never leaves a manifest whose payload is gone.
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(rank_dir_, ec)) {
    if (auto s = StepOfManifest(entry.path().filename().string())) steps.push_back(*s);
  }
  std::sort(steps.rbegin(), steps.rend());
  for (size_t i = static_cast<size_t>(options_.keep); i < steps.size(); ++i) {
    fs::remove(rank_dir_ + "/" + CheckpointManifestName(steps[i]), ec);
    fs::remove(rank_dir_ + "/" + CheckpointPayloadName(steps[i]), ec);
  }
  return Status::Ok();
}

StatusOr<std::string> CheckpointStore::ReadVerified(int64_t step) {
  const std::string manifest_name = CheckpointManifestName(step);
  const std::string payload_name = CheckpointPayloadName(step);
  auto manifest_text = ReadWholeFile(rank_dir_ + "/" + manifest_name);
  if (!manifest_text.ok()) {
    return NotFoundError(rank_dir_ + "/" + manifest_name + ": manifest " + manifest_text.status().message());
  }
  auto manifest = DecodeManifest(*manifest_text);
  if (!manifest.ok()) {
    return InvalidArgumentError(rank_dir_ + "/" + manifest_name + ": " + manifest.status().message());
  }
  const std::string where = rank_dir_ + "/" + payload_name;
  if (manifest->step != step) {
    return InvalidArgumentError(rank_dir_ + "/" + manifest_name + ": names step " + std::to_string(manifest->step));
  }
  if (manifest->world_size != options_.world_size) {
    return InvalidArgumentError(rank_dir_ + "/" + manifest_name + ": written by a world of " +
                                std::to_string(manifest->world_size) + " ranks, this run has " +
                                std::to_string(options_.world_size));
  }
  if (manifest->rank != options_.rank) {
    return InvalidArgumentError(rank_dir_ + "/" + manifest_name + ": written by rank " +
                                std::to_string(manifest->rank));
  }
  if (manifest->fingerprint != options_.fingerprint) {
    return InvalidArgumentError(rank_dir_ + "/" + manifest_name + ": written by another configuration (" +
                                manifest->fingerprint + ", this run is " + options_.fingerprint + ")");
  }
  auto payload = ReadWholeFile(where);
  if (!payload.ok()) return InvalidArgumentError(where + ": payload " + payload.status().message());
  if (payload->size() != manifest->payload_bytes) {
    return InvalidArgumentError(where + ": " + std::to_string(payload->size()) + " bytes, manifest says " +
                                std::to_string(manifest->payload_bytes) + " (truncated?)");
  }
  const std::string sum = Fnv1a64Hex(payload->data(), payload->size());
  if (sum != manifest->payload_fnv1a64) {
    return InvalidArgumentError(where + ": checksum " + sum + " does not match the manifest's " +
                                manifest->payload_fnv1a64 + " (corrupt)");
  }
  return std::move(*payload);
}

std::vector<int64_t> CheckpointStore::ValidSteps() {
  std::vector<int64_t> candidates;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(rank_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (auto s = StepOfManifest(name)) {
      candidates.push_back(*s);
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".ckpt") == 0) {
      // A payload whose manifest never made it (a crash between the two writes).
      const std::string manifest = name.substr(0, name.size() - 5) + kManifestSuffix;
      if (!fs::exists(rank_dir_ + "/" + manifest, ec)) {
        Warn(rank_dir_ + "/" + name, "no manifest " + manifest + " (the write did not finish)");
      }
    }
  }
  std::sort(candidates.rbegin(), candidates.rend());
  std::vector<int64_t> valid;
  for (int64_t step : candidates) {
    auto payload = ReadVerified(step);
    if (payload.ok()) {
      valid.push_back(step);
    } else {
      Warn(rank_dir_ + "/" + CheckpointManifestName(step), payload.status().message());
    }
  }
  return valid;
}

StatusOr<Checkpoint> CheckpointStore::Load(int64_t step) {
  auto payload = ReadVerified(step);
  if (!payload.ok()) return NotFoundError(payload.status().message());
  return Checkpoint{step, std::move(*payload)};
}

}  // namespace ringleader::runtime
