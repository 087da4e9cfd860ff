#pragma once
// The rendezvous key/value store interface. Rank 0 serves it over TCP (TcpStoreServer, backed
// by an InMemoryStore); every rank, rank 0 included, talks to it through TcpStoreClient;
// thread-based tests use an InMemoryStore directly.
//
// Besides keys, a store tracks liveness: a client says Hello(rank) once and Goodbye() at a
// clean exit; a connection that closes without Goodbye marks its rank dead, so a rank whose
// collective failed can ask DeadRanks() who actually died instead of blaming its neighbour.
//
// Thread-safety: every implementation may be called from several threads.

#include <cstdint>
#include <string>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/deadline.h"

namespace ringleader::runtime {

class Store {
 public:
  virtual ~Store() = default;
  virtual Status Set(const std::string& key, const std::string& value) = 0;
  // Waits until the key exists; kDeadlineExceeded if it does not appear before the deadline.
  virtual StatusOr<std::string> Get(const std::string& key, Deadline deadline) = 0;
  // For each key, whether it exists now (no waiting).
  virtual StatusOr<std::vector<bool>> Check(const std::vector<std::string>& keys) = 0;
  // Atomically adds delta to an integer key (missing = 0) and returns the new value.
  virtual StatusOr<int64_t> Add(const std::string& key, int64_t delta) = 0;
  // Ranks whose connection dropped without a Goodbye, ascending.
  virtual StatusOr<std::vector<int>> DeadRanks(Deadline deadline) = 0;
};

// Waits for every key; on timeout the error lists the missing ones via `describe_missing`.
// Returns values in key order.
StatusOr<std::vector<std::string>> GetAll(Store& store, const std::vector<std::string>& keys,
                                          Deadline deadline);

}  // namespace ringleader::runtime
