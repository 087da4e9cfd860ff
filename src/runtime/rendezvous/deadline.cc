#include "ringleader/runtime/rendezvous/deadline.h"

#include <algorithm>
#include <climits>

namespace ringleader::runtime {

int MillisUntil(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count(), INT_MAX));
}

}  // namespace ringleader::runtime
