// Dot products whose rounding does not depend on the compiler or CPU: 16
// partial sums (lane i % 16), combined by a fixed pairwise tree. The compiler
// may vectorize the inner loop (it needs no reassociation to do so), and every
// machine gets the same bits, which keeps codes bit-identical everywhere.
#ifndef TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_H_
#define TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_H_

#include <cstddef>

namespace turboquant::internal {

inline float FixedOrderDot(const float* a, const float* b, size_t n) {
  constexpr size_t kPartials = 16;
  float partial[kPartials] = {};
  size_t i = 0;
  for (; i + kPartials <= n; i += kPartials) {
    for (size_t j = 0; j < kPartials; ++j) partial[j] += a[i + j] * b[i + j];
  }
  for (size_t j = 0; i + j < n; ++j) partial[j] += a[i + j] * b[i + j];
  for (size_t width = kPartials / 2; width > 0; width /= 2) {
    for (size_t j = 0; j < width; ++j) partial[j] += partial[j + width];
  }
  return partial[0];
}

inline float FixedOrderSquaredNorm(const float* a, size_t n) { return FixedOrderDot(a, a, n); }

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_H_
