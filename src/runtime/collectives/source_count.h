#pragma once
// Turns a reduce's run-time source count into a compile-time one, so the kernels can unroll their
// sum over sources (dtype.cc, reduce16_simd.cc).

#include <type_traits>

namespace ringleader::runtime {

// The most sources one pass of a reduce kernel sums; more are chained by the caller.
inline constexpr int kMaxSourcesPerPass = 8;

// f(std::integral_constant<int, n>{}) for n in 1..kMaxSourcesPerPass; n outside that range
// calls f with kMaxSourcesPerPass (callers pass n in range).
template <typename F>
decltype(auto) WithSourceCount(int n, F&& f) {
  static_assert(kMaxSourcesPerPass == 8, "one case per source count");
  switch (n) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 7: return f(std::integral_constant<int, 7>{});
    default: return f(std::integral_constant<int, 8>{});
  }
}

}  // namespace ringleader::runtime
