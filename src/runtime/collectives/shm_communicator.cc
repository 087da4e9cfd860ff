#include "ringleader/runtime/collectives/shm_communicator.h"

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
#include <functional>
#include <random>
#include <vector>

#include "ringleader/runtime/rendezvous/rendezvous.h"
#include "shm_segment.h"

namespace ringleader::runtime {

// Slot sets in rotation: between two barriers a rank reads set k-1 (copy out), set k (reduce)
// and writes set k+1 (copy in), so three sets let one barrier per chunk separate them.
constexpr int kSlotSets = 3;

namespace {

constexpr size_t kAlign = 4096;

size_t RoundUp(size_t x, size_t a) { return (x + a - 1) / a * a; }

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

char* ShmCommunicator::Slot(uint64_t chunk_seq, int rank) const {
  const size_t set = chunk_seq % kSlotSets;
  return slots_ + (set * size_ + rank) * chunk_bytes_;
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
  const int online_cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  comm->spin_ = SpinPolicy(options.shm_spin_us, n, online_cpus);
  comm->chunk_bytes_ = RoundUp(std::max<size_t>(options.shm_chunk_bytes, 4096), 64);
  comm->reduce_by_last_arrival_ =
      options.shm_reduce_by_last_arrival > 0 || (options.shm_reduce_by_last_arrival < 0 && n > online_cpus);
  const size_t last_arrival_bytes = comm->reduce_by_last_arrival_ ? 2 * (n + 1) * comm->chunk_bytes_ : 0;
  comm->mapping_bytes_ =
      RoundUp(sizeof(ShmHeader), kAlign) + kSlotSets * n * comm->chunk_bytes_ + last_arrival_bytes;
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
  // MAP_POPULATE: the page tables are filled now, not by ~1500 minor faults (6 MiB at 4 ranks)
  // inside the first collectives.
  void* mapping = mmap(nullptr, comm->mapping_bytes_, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_POPULATE, fd.get(), 0);
  if (mapping == MAP_FAILED) {
    if (comm->rank_ == 0) shm_unlink(name.c_str());
    return InternalError("mmap " + name + ": " + std::strerror(errno));
  }
  comm->mapping_ = mapping;
  comm->header_ = static_cast<ShmHeader*>(mapping);
  comm->slots_ = static_cast<char*>(mapping) + RoundUp(sizeof(ShmHeader), kAlign);
  if (comm->reduce_by_last_arrival_) {
    comm->last_arrival_slots_ = comm->slots_ + kSlotSets * n * comm->chunk_bytes_;
    comm->last_arrival_sources_.resize(static_cast<size_t>(n));
  }
  if (comm->rank_ == 0) {
    // ftruncate zero-filled the segment: arrived = generation = 0.
    comm->header_->failed_rank.store(-1);
    comm->header_->world_size = n;
    comm->header_->chunk_bytes = comm->chunk_bytes_;
  }
  comm->header_->pids[comm->rank_] = rendezvous.peers()[comm->rank_].pid;
  comm->header_->probe_addresses[comm->rank_] = reinterpret_cast<uintptr_t>(&comm->probe_word_);
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
  if (n > 1 && options.shm_single_copy) RETURN_IF_ERROR(comm->ChooseSingleCopy());
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
  const auto arrived_at = Clock::now();
  ++stats_.barriers;
  const uint32_t gen = h.generation.load(std::memory_order_acquire);
  h.arrived_in[rank_].store(gen + 1, std::memory_order_relaxed);
  Status status = Status::Ok();
  if (h.arrived.fetch_add(1, std::memory_order_acq_rel) == static_cast<uint32_t>(size_ - 1)) {
    ++stats_.last_arrivals;
    h.arrived.store(0, std::memory_order_relaxed);
    // seq_cst on both sides (here: bump, then read sleepers; a sleeper: count itself, then
    // FUTEX_WAIT re-reads the generation): either we see the sleeper or it sees the new
    // generation, so no wake is lost, and no syscall is made when every rank was spinning.
    h.generation.fetch_add(1, std::memory_order_seq_cst);
    if (h.sleepers.load(std::memory_order_seq_cst) > 0) {
      ++stats_.wakes;
      Futex(&h.generation, FUTEX_WAKE, INT32_MAX, nullptr);
    }
  } else {
    status = WaitForGeneration(gen);
  }
  stats_.barrier_wait_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - arrived_at).count());
  return status;
}

Status ShmCommunicator::WaitForGeneration(uint32_t gen) {
  ShmHeader& h = *header_;
  return WaitForChange(h.generation, gen, "shared-memory barrier",
                       [&h, gen](int r) { return h.arrived_in[r].load(std::memory_order_relaxed) == gen + 1; });
}

Status ShmCommunicator::WaitForChange(std::atomic<uint32_t>& word, uint32_t value, const char* what,
                                      const std::function<bool(int)>& arrived) {
  const auto started = Clock::now();
  const std::chrono::nanoseconds spin = spin_.Budget();
  if (spin.count() > 0) {
    const auto spin_until = started + spin;
    do {
      for (int i = 0; i < 64; ++i) {
        if (word.load(std::memory_order_acquire) != value) {
          ++stats_.spin_exits;
          spin_.Observe(Clock::now() - started, /*spun_out=*/false);
          return Status::Ok();
        }
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
    } while (Clock::now() < spin_until);
  }
  Status slept = SleepUntilChange(word, value, what, arrived);
  if (slept.ok()) spin_.Observe(Clock::now() - started, /*spun_out=*/spin.count() > 0);
  return slept;
}

Status ShmCommunicator::SleepUntilChange(std::atomic<uint32_t>& word, uint32_t value, const char* what,
                                         const std::function<bool(int)>& arrived) {
  ShmHeader& h = *header_;
  h.sleepers.fetch_add(1, std::memory_order_seq_cst);
  struct Leave {
    ShmHeader& h;
    ~Leave() { h.sleepers.fetch_sub(1, std::memory_order_relaxed); }
  } leave{h};
  const Deadline deadline = DeadlineAfter(options_.timeout);
  const timespec slice{0, 50 * 1000 * 1000};  // liveness check period
  while (word.load(std::memory_order_seq_cst) == value) {
    ++stats_.sleeps;
    Futex(&word, FUTEX_WAIT, value, &slice);
    if (word.load(std::memory_order_acquire) != value) break;
    int failed = h.failed_rank.load();
    if (failed < 0) failed = FindDeadPeer();
    if (failed >= 0) return Break(failed, "rank " + std::to_string(failed) + " left the shared-memory all-reduce");
    if (Clock::now() >= deadline) {
      int late = -1;
      std::string late_ranks;
      for (int r = 0; r < size_; ++r) {
        if (!arrived(r)) {
          if (late < 0) late = r;
          late_ranks += (late_ranks.empty() ? "" : ", ") + std::to_string(r);
        }
      }
      const std::string waited = std::to_string(options_.timeout.count()) + " ms";
      broken_ = AbortedError(rendezvous_.DescribePeerFailure(
          late,
          late_ranks.empty() ? std::string(what) + ": did not complete within " + waited
                             : std::string(what) + ": ranks " + late_ranks + " did not arrive within " + waited,
          /*timed_out=*/true));
      return broken_;
    }
  }
  return Status::Ok();
}

Status ShmCommunicator::Break(int failed, const std::string& message) {
  ShmHeader& h = *header_;
  int expected = -1;
  h.failed_rank.compare_exchange_strong(expected, failed);
  // Every word a peer may sleep on: they re-check failed_rank when woken.
  for (std::atomic<uint32_t>* word :
       {&h.generation, &h.published_call, &h.finished_call, &h.last_arrival_done_call}) {
    Futex(word, FUTEX_WAKE, INT32_MAX, nullptr);
  }
  broken_ = AbortedError(rendezvous_.DescribePeerFailure(failed, message));
  return broken_;
}

Status ShmCommunicator::Barrier() {
  if (!broken_.ok()) return broken_;
  return WaitBarrier();
}

Status ShmCommunicator::AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) {
  if (!broken_.ok()) return broken_;
  const int n = size_;
  if (n == 1 || count == 0) return Status::Ok();
  ++stats_.collectives;
  const size_t esize = DataTypeSize(type);
  if (single_copy_ && count * esize >= options_.shm_single_copy_min_bytes) {
    return AllReduceSingleCopy(buffer, count, type, op);
  }
  if (reduce_by_last_arrival_ && count * esize <= chunk_bytes_) {
    return AllReduceByLastArrival(buffer, count, type, op);
  }
  const size_t chunk_elems = chunk_bytes_ / esize;
  const size_t chunks = (count + chunk_elems - 1) / chunk_elems;
  const int divisor = op == ReduceOp::kAverage ? n : 1;
  char* data = static_cast<char*>(buffer);
  const uint64_t first_seq = chunk_seq_;
  chunk_seq_ += chunks;
  stats_.chunks += chunks;
  // Chunk k of this call: elements [k * chunk_elems, + ChunkLen(k)), in slot set first_seq + k.
  auto chunk_len = [&](size_t k) { return std::min(chunk_elems, count - k * chunk_elems); };
  auto chunk_data = [&](size_t k) { return data + k * chunk_elems * esize; };
  // Rank r owns elements [len * r / n, len * (r + 1) / n) of a chunk of `len` elements.
  auto slice_begin = [n](size_t len, int r) { return len * r / n; };
  // A rank's own slice never goes through its slot: only peers' slices are copied in, the
  // reduction reads the own slice from the caller's buffer and writes the result there (then
  // into the slot, for the peers), and the copy-out skips it. Per rank that saves 1/n of the
  // copy-in and copy-out traffic (a quarter at 4 ranks, half at 2); the summation order, and
  // so every bit of the result, is unchanged.
  auto copy_in = [&](size_t k) {
    const size_t len = chunk_len(k);
    const size_t b = slice_begin(len, rank_) * esize;
    const size_t e = slice_begin(len, rank_ + 1) * esize;
    char* slot = Slot(first_seq + k, rank_);
    std::memcpy(slot, chunk_data(k), b);
    std::memcpy(slot + e, chunk_data(k) + e, len * esize - e);
  };
  std::vector<const void*> sources(n);
  auto reduce = [&](size_t k) {
    const size_t len = chunk_len(k);
    const size_t begin = slice_begin(len, rank_);
    const size_t end = slice_begin(len, rank_ + 1);
    if (end == begin) return;
    char* own = chunk_data(k) + begin * esize;
    for (int r = 0; r < n; ++r) sources[r] = Slot(first_seq + k, r) + begin * esize;
    sources[rank_] = own;
    ReduceSources(own, sources.data(), n, end - begin, type, divisor);
    std::memcpy(Slot(first_seq + k, rank_) + begin * esize, own, (end - begin) * esize);
  };
  auto copy_out = [&](size_t k) {
    const size_t len = chunk_len(k);
    for (int r = 0; r < n; ++r) {
      if (r == rank_) continue;
      const size_t b = slice_begin(len, r);
      const size_t e = slice_begin(len, r + 1);
      std::memcpy(chunk_data(k) + b * esize, Slot(first_seq + k, r) + b * esize, (e - b) * esize);
    }
  };
  // Barrier k separates "everyone copied chunk k in and reduced chunk k-1" from "reduce chunk
  // k, copy chunk k-1 out". The set written after it (k+1) was last used by chunk k-2, whose
  // copy-out every rank finished before arriving at barrier k. Across calls the sequence
  // continues, so the next call's first copy-in never lands in the set being copied out here.
  copy_in(0);
  for (size_t k = 0; k <= chunks; ++k) {
    RETURN_IF_ERROR(WaitBarrier());
    if (k > 0) copy_out(k - 1);
    if (k < chunks) reduce(k);
    if (k + 1 < chunks) copy_in(k + 1);
  }
  return Status::Ok();
}

}  // namespace ringleader::runtime
