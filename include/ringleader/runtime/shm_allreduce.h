#pragma once
// Same-host shared-memory all-reduce (the `shm` backend; `auto` picks it when every rank is on
// one host). TCP over loopback costs two kernel copies per hop plus syscalls; here each rank
// copies its chunk into a shared staging slot once, reduces its 1/N slice of the chunk across
// all slots (reading every source once, writing once) and copies the reduced slices back:
// about 2 copies + 1 read of the buffer per rank, whatever N is.
//
// Chunks alternate between two slot sets, so one chunk needs two barriers. Barriers spin
// briefly and then sleep on a futex (ranks may outnumber cores). Every wait is bounded by the
// collective timeout and checks the peers' pids, so a dead peer is reported within ~50 ms.
//
// Thread-safety: one collective at a time.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "ringleader/runtime/communicator.h"
#include "ringleader/runtime/socket.h"

namespace ringleader::runtime {

struct ShmHeader;

class ShmCommunicator : public Communicator {
 public:
  static StatusOr<std::unique_ptr<ShmCommunicator>> Create(Rendezvous& rendezvous,
                                                           const CommunicatorOptions& options);
  ~ShmCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Backend backend() const override { return Backend::kShm; }
  Status AllReduce(void* buffer, size_t count, DataType type, ReduceOp op) override;
  Status Barrier() override;

 private:
  ShmCommunicator(Rendezvous& rendezvous, const CommunicatorOptions& options);
  Status WaitBarrier();
  // Returns a dead peer's rank or -1.
  int FindDeadPeer() const;
  char* Slot(int set, int rank) const;

  Rendezvous& rendezvous_;
  CommunicatorOptions options_;
  int rank_ = 0;
  int size_ = 1;
  size_t chunk_bytes_ = 0;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  ShmHeader* header_ = nullptr;
  char* slots_ = nullptr;
  int slot_set_ = 0;
  Status broken_;
};

}  // namespace ringleader::runtime
