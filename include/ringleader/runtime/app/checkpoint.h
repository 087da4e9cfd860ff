#pragma once
// Crash-safe checkpoints for programs built on the runtime (the demo trainer uses them; any
// C++ program can). Each rank keeps its own files, so Pods with separate volumes work as well as
// ranks sharing one directory:
//
//   <dir>/rank-<r>/step-<000000000050>.ckpt       the payload (opaque bytes)
//   <dir>/rank-<r>/step-<000000000050>.manifest   its manifest, written after the payload
//
// The manifest is small text: format version, step, world size, rank, payload size, FNV-1a 64
// of the payload and a fingerprint of the run's configuration. A checkpoint exists only when
// its manifest does and agrees with its payload; the manifest is the commit record.
//
// Writes are atomic: each file is written to a temporary name, fsync'ed, renamed into place, and
// the directory is fsync'ed, payload first, manifest second. A crash at any point leaves either
// the previous checkpoints or the new one, never a file that looks complete but is not. The
// newest `keep` checkpoints are kept; older ones are deleted after a successful save.
//
// Reading never trusts a file: a missing or torn manifest, a payload of the wrong size or
// checksum, another world size, rank or configuration makes that checkpoint invalid; it is
// skipped with a warning naming the file and the reason, and an older valid one is used. Load
// hands out a payload only after it was verified, so nothing is ever half-read into a model.
//
// Thread-safety: one CheckpointStore per rank, used from one thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ringleader/common/status.h"

namespace ringleader::runtime {

struct CheckpointOptions {
  std::string dir;  // the job's checkpoint directory (RINGLEADER_CHECKPOINT_DIR)
  int rank = 0;
  int world_size = 1;
  // Identifies what the payload means (model shape, seed, batch, ...): a checkpoint written
  // under another fingerprint is not loaded. No '\n'.
  std::string fingerprint;
  int keep = 3;  // newest checkpoints kept (>= 1)
  // Where skipped files are reported (one line each); nullptr: stderr.
  std::function<void(const std::string&)> warn;
};

struct Checkpoint {
  int64_t step = 0;
  std::string payload;
};

class CheckpointStore {
 public:
  // Creates <dir>/rank-<r> if needed. kInvalidArgument for bad options, kInternal when the
  // directory cannot be made.
  static StatusOr<CheckpointStore> Open(CheckpointOptions options);

  // Writes the checkpoint of `step` atomically, then prunes to the newest `keep`.
  Status Save(int64_t step, const std::string& payload);

  // Steps of this rank's valid checkpoints, newest first. Invalid ones are reported through
  // `warn` (once per file per store) and skipped. Payloads are read and verified.
  std::vector<int64_t> ValidSteps();

  // The verified payload of `step`; kNotFound when that checkpoint is missing or invalid.
  StatusOr<Checkpoint> Load(int64_t step);

  const std::string& rank_dir() const { return rank_dir_; }

 private:
  explicit CheckpointStore(CheckpointOptions options, std::string rank_dir)
      : options_(std::move(options)), rank_dir_(std::move(rank_dir)) {}
  // The payload when the checkpoint of `step` is valid, else the reason it is not.
  StatusOr<std::string> ReadVerified(int64_t step);
  void Warn(const std::string& file, const std::string& why);

  CheckpointOptions options_;
  std::string rank_dir_;
  std::vector<std::string> warned_;
};

// The file names of `step`'s checkpoint inside a rank directory (exposed for tests).
std::string CheckpointPayloadName(int64_t step);
std::string CheckpointManifestName(int64_t step);

// FNV-1a 64 of `bytes` as 16 hex digits.
std::string Fnv1a64Hex(const void* bytes, size_t size);

}  // namespace ringleader::runtime
