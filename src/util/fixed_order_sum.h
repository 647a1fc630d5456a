// Dot products whose rounding does not depend on the compiler or CPU: 16
// partial sums (lane i % 16), combined by a fixed pairwise tree. The compiler
// may vectorize the inner loop (it needs no reassociation to do so), and every
// machine gets the same bits, which keeps codes bit-identical everywhere.
// fixed_order_sum-inl.h computes the same sums with explicit SIMD.
#ifndef TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_H_
#define TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_H_

#include <cstddef>

namespace turboquant::internal {

constexpr size_t kFixedOrderPartials = 16;

// The end of a fixed-order dot: partial[j] += a[j] * b[j] for the last
// rest < 16 elements, then the pairwise tree (8, 4, 2, 1).
inline float FinishFixedOrderDot(float* partial, const float* a, const float* b, size_t rest) {
  for (size_t j = 0; j < rest; ++j) partial[j] += a[j] * b[j];
  for (size_t width = kFixedOrderPartials / 2; width > 0; width /= 2) {
    for (size_t j = 0; j < width; ++j) partial[j] += partial[j + width];
  }
  return partial[0];
}

inline float FixedOrderDot(const float* a, const float* b, size_t n) {
  constexpr size_t kPartials = kFixedOrderPartials;
  float partial[kPartials] = {};
  size_t i = 0;
  for (; i + kPartials <= n; i += kPartials) {
    for (size_t j = 0; j < kPartials; ++j) partial[j] += a[i + j] * b[i + j];
  }
  return FinishFixedOrderDot(partial, a + i, b + i, n - i);
}

inline float FixedOrderSquaredNorm(const float* a, size_t n) { return FixedOrderDot(a, a, n); }

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_H_
