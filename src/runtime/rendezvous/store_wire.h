#pragma once
// The rendezvous store's wire format, shared by TcpStoreServer and TcpStoreClient (private to
// this folder). Every message is [u32 length][u8 code][u32 count]([u32 len][bytes])*count;
// requests carry the op in `code`, replies carry a StatusCode.

#include <cstdint>
#include <string>
#include <vector>

#include "ringleader/common/status.h"
#include "ringleader/runtime/rendezvous/deadline.h"

namespace ringleader::runtime::store_wire {

enum Op : uint8_t { kHello = 1, kSet, kGet, kCheck, kAdd, kDead, kBye };

std::string Encode(uint8_t code, const std::vector<std::string>& parts);
// Reads one whole message from `fd`; kInternal for a malformed one.
Status ReadMessage(int fd, Deadline deadline, uint8_t* code, std::vector<std::string>* parts);

}  // namespace ringleader::runtime::store_wire
