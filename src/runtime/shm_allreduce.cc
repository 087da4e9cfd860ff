#include "ringleader/runtime/shm_allreduce.h"

#include <fcntl.h>
#include <sched.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "ringleader/runtime/rendezvous.h"

namespace ringleader::runtime {

constexpr int kMaxShmRanks = 256;
constexpr int kYieldsBeforeSleep = 20;

struct alignas(64) ShmHeader {
  std::atomic<uint32_t> arrived;     // ranks in the current barrier
  std::atomic<uint32_t> generation;  // futex word, bumped when a barrier completes
  std::atomic<int32_t> failed_rank;  // -1, or a rank some peer saw die
  int32_t world_size;
  uint64_t chunk_bytes;
  int32_t pids[kMaxShmRanks];
  // Generation each rank last arrived in, to name the ranks a timed-out barrier waits for.
  std::atomic<uint32_t> arrived_in[kMaxShmRanks];
};

namespace {

constexpr size_t kAlign = 4096;

size_t RoundUp(size_t x, size_t a) { return (x + a - 1) / a * a; }

long Futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, timeout, nullptr, 0);
}

bool ProcessGone(int pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A killed child stays a zombie until its parent reaps it: treat that as gone too.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         (line[paren + 2] == 'Z' || line[paren + 2] == 'X');
}

}  // namespace

ShmCommunicator::ShmCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options)
    : rendezvous_(rendezvous), options_(options), rank_(rendezvous.rank()),
      size_(rendezvous.world_size()) {}

ShmCommunicator::~ShmCommunicator() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_bytes_);
}

char* ShmCommunicator::Slot(int set, int rank) const {
  return slots_ + (static_cast<size_t>(set) * size_ + rank) * chunk_bytes_;
}

StatusOr<std::unique_ptr<ShmCommunicator>> ShmCommunicator::Create(
    Rendezvous& rendezvous, const CommunicatorOptions& options) {
  if (!rendezvous.AllOnOneHost()) {
    return InvalidArgumentError("the shm backend needs every rank on one host");
  }
  if (rendezvous.world_size() > kMaxShmRanks) {
    return InvalidArgumentError("the shm backend supports at most " + std::to_string(kMaxShmRanks) +
                                " ranks");
  }
  std::unique_ptr<ShmCommunicator> comm(new ShmCommunicator(rendezvous, options));
  const int n = comm->size_;
  comm->chunk_bytes_ = RoundUp(std::max<size_t>(options.shm_chunk_bytes, 4096), 64);
  comm->mapping_bytes_ = RoundUp(sizeof(ShmHeader), kAlign) + 2 * n * comm->chunk_bytes_;
  const Deadline deadline = DeadlineAfter(options.timeout);
  const std::string key = rendezvous.Key("shm/name");
  std::string name;
  Fd fd;
  if (comm->rank_ == 0) {
    std::random_device random;
    name = "/ringleader-" + std::to_string(getpid()) + "-" + std::to_string(random());
    fd.reset(shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
    if (!fd.valid()) return InternalError("shm_open " + name + ": " + std::strerror(errno));
    if (ftruncate(fd.get(), static_cast<off_t>(comm->mapping_bytes_)) != 0) {
      shm_unlink(name.c_str());
      return InternalError("ftruncate " + name + ": " + std::strerror(errno));
    }
    // ftruncate leaves the segment sparse: if /dev/shm is too small (64 MiB in a Kubernetes
    // pod unless a memory emptyDir is mounted there), touching it later kills the rank with
    // SIGBUS mid-collective. Reserve the pages now, so it is a clear error at start instead.
    if (int err = posix_fallocate(fd.get(), 0, static_cast<off_t>(comm->mapping_bytes_)); err != 0) {
      shm_unlink(name.c_str());
      return InternalError("reserving " + std::to_string(comm->mapping_bytes_) + " bytes of shared memory (" +
                           name + ") failed: " + std::strerror(err) +
                           "; /dev/shm is too small: mount a memory emptyDir at /dev/shm, or use --backend tcp");
    }
  }
  Status published = Status::Ok();
  if (comm->rank_ == 0) {
    published = rendezvous.store().Set(key, name);
  } else {
    auto got = rendezvous.store().Get(key, deadline);
    if (!got.ok()) return got.status();
    name = *got;
    fd.reset(shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600));
    if (!fd.valid()) return InternalError("shm_open " + name + ": " + std::strerror(errno));
  }
  RETURN_IF_ERROR(published);
  void* mapping = mmap(nullptr, comm->mapping_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (mapping == MAP_FAILED) {
    if (comm->rank_ == 0) shm_unlink(name.c_str());
    return InternalError("mmap " + name + ": " + std::strerror(errno));
  }
  comm->mapping_ = mapping;
  comm->header_ = static_cast<ShmHeader*>(mapping);
  comm->slots_ = static_cast<char*>(mapping) + RoundUp(sizeof(ShmHeader), kAlign);
  if (comm->rank_ == 0) {
    // ftruncate zero-filled the segment: arrived = generation = 0.
    comm->header_->failed_rank.store(-1);
    comm->header_->world_size = n;
    comm->header_->chunk_bytes = comm->chunk_bytes_;
  }
  comm->header_->pids[comm->rank_] = rendezvous.peers()[comm->rank_].pid;
  // Everyone has mapped the segment once this store barrier passes; then the name can go,
  // so a crash never leaks it in /dev/shm.
  (void)rendezvous.store().Set(rendezvous.Key("shm/mapped/" + std::to_string(comm->rank_)), "1");
  if (comm->rank_ == 0) {
    std::vector<std::string> keys;
    for (int r = 0; r < n; ++r) keys.push_back(rendezvous.Key("shm/mapped/" + std::to_string(r)));
    auto all = GetAll(rendezvous.store(), keys, deadline);
    shm_unlink(name.c_str());
    if (!all.ok()) return AbortedError(rendezvous.DescribePeerFailure(0, all.status().message()));
    (void)rendezvous.store().Set(rendezvous.Key("shm/ready"), "1");
  } else {
    auto ready = rendezvous.store().Get(rendezvous.Key("shm/ready"), deadline);
    if (!ready.ok()) return AbortedError(rendezvous.DescribePeerFailure(0, ready.status().message()));
  }
  // Peers' pids were written before their "mapped" key; the store round trip orders them.
  return comm;
}

int ShmCommunicator::FindDeadPeer() const {
  for (int r = 0; r < size_; ++r) {
    if (r != rank_ && ProcessGone(header_->pids[r])) return r;
  }
  return -1;
}

Status ShmCommunicator::WaitBarrier() {
  if (size_ == 1) return Status::Ok();
  ShmHeader& h = *header_;
  const uint32_t gen = h.generation.load(std::memory_order_acquire);
  h.arrived_in[rank_].store(gen + 1, std::memory_order_relaxed);
  if (h.arrived.fetch_add(1, std::memory_order_acq_rel) == static_cast<uint32_t>(size_ - 1)) {
    h.arrived.store(0, std::memory_order_relaxed);
    h.generation.fetch_add(1, std::memory_order_release);
    Futex(&h.generation, FUTEX_WAKE, INT32_MAX, nullptr);
    return Status::Ok();
  }
  // Spin briefly: with a core per rank the barrier usually completes within microseconds.
  for (int i = 0; i < 256; ++i) {
    if (h.generation.load(std::memory_order_acquire) != gen) return Status::Ok();
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
  // Then yield a few times: when ranks outnumber cores the rank we wait for may need this
  // core. Only a few: under outside load, long yield-spinning starves the ranks doing work
  // (measured: 20 yields beat both 0 and 2000 on 4 ranks / 2 busy cores).
  for (int i = 0; i < kYieldsBeforeSleep; ++i) {
    sched_yield();
    if (h.generation.load(std::memory_order_acquire) != gen) return Status::Ok();
  }
  const Deadline deadline = DeadlineAfter(options_.timeout);
  const timespec slice{0, 50 * 1000 * 1000};  // liveness check period
  while (h.generation.load(std::memory_order_acquire) == gen) {
    Futex(&h.generation, FUTEX_WAIT, gen, &slice);
    if (h.generation.load(std::memory_order_acquire) != gen) break;
    int failed = h.failed_rank.load();
    if (failed < 0) failed = FindDeadPeer();
    if (failed >= 0) {
      int expected = -1;
      h.failed_rank.compare_exchange_strong(expected, failed);
      Futex(&h.generation, FUTEX_WAKE, INT32_MAX, nullptr);
      broken_ = AbortedError(rendezvous_.DescribePeerFailure(
          failed, "rank " + std::to_string(failed) + " left the shared-memory all-reduce"));
      return broken_;
    }
    if (Clock::now() >= deadline) {
      int late = -1;
      std::string late_ranks;
      for (int r = 0; r < size_; ++r) {
        if (h.arrived_in[r].load(std::memory_order_relaxed) != gen + 1) {
          if (late < 0) late = r;
          late_ranks += (late_ranks.empty() ? "" : ", ") + std::to_string(r);
        }
      }
      broken_ = AbortedError(rendezvous_.DescribePeerFailure(
          late, "shared-memory barrier: ranks " + late_ranks + " did not arrive within " +
                    std::to_string(options_.timeout.count()) + " ms",
          /*timed_out=*/true));
      return broken_;
    }
  }
  return Status::Ok();
}

Status ShmCommunicator::Barrier() {
  if (!broken_.ok()) return broken_;
  return WaitBarrier();
}

Status ShmCommunicator::AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) {
  if (!broken_.ok()) return broken_;
  const int n = size_;
  if (n == 1 || count == 0) return Status::Ok();
  const size_t esize = DataTypeSize(type);
  const size_t chunk_elems = chunk_bytes_ / esize;
  const int divisor = op == ReduceOp::kAverage ? n : 1;
  char* data = static_cast<char*>(buffer);
  std::vector<const void*> sources(n);
  for (size_t offset = 0; offset < count; offset += chunk_elems) {
    const size_t len = std::min(chunk_elems, count - offset);
    char* chunk = data + offset * esize;
    const int set = slot_set_;
    slot_set_ ^= 1;
    std::memcpy(Slot(set, rank_), chunk, len * esize);
    RETURN_IF_ERROR(WaitBarrier());
    auto slice_begin = [&](int r) { return len * r / n; };
    const size_t begin = slice_begin(rank_);
    const size_t end = slice_begin(rank_ + 1);
    if (end > begin) {
      for (int r = 0; r < n; ++r) sources[r] = Slot(set, r) + begin * esize;
      ReduceSources(Slot(set, rank_) + begin * esize, sources.data(), n, end - begin, type, divisor);
    }
    RETURN_IF_ERROR(WaitBarrier());
    for (int r = 0; r < n; ++r) {
      const size_t b = slice_begin(r);
      const size_t e = slice_begin(r + 1);
      std::memcpy(chunk + b * esize, Slot(set, r) + b * esize, (e - b) * esize);
    }
  }
  return Status::Ok();
}

}  // namespace ringleader::runtime
