#include "store_wire.h"

#include <cstring>

#include "ringleader/runtime/rendezvous/socket.h"

namespace ringleader::runtime::store_wire {

namespace {

void PutU32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

}  // namespace

std::string Encode(uint8_t code, const std::vector<std::string>& parts) {
  std::string body;
  body.push_back(static_cast<char>(code));
  PutU32(body, static_cast<uint32_t>(parts.size()));
  for (const auto& p : parts) {
    PutU32(body, static_cast<uint32_t>(p.size()));
    body += p;
  }
  std::string out;
  PutU32(out, static_cast<uint32_t>(body.size()));
  return out + body;
}

Status ReadMessage(int fd, Deadline deadline, uint8_t* code, std::vector<std::string>* parts) {
  uint32_t len = 0;
  RETURN_IF_ERROR(RecvAll(fd, &len, 4, deadline));
  if (len < 5 || len > (64u << 20)) return InternalError("bad store message length");
  std::string body(len, '\0');
  RETURN_IF_ERROR(RecvAll(fd, body.data(), len, deadline));
  *code = static_cast<uint8_t>(body[0]);
  uint32_t count;
  std::memcpy(&count, body.data() + 1, 4);
  size_t pos = 5;
  parts->clear();
  for (uint32_t i = 0; i < count; ++i) {
    if (pos + 4 > body.size()) return InternalError("truncated store message");
    uint32_t n;
    std::memcpy(&n, body.data() + pos, 4);
    pos += 4;
    if (pos + n > body.size()) return InternalError("truncated store message");
    parts->push_back(body.substr(pos, n));
    pos += n;
  }
  return Status::Ok();
}

}  // namespace ringleader::runtime::store_wire
