// FixedOrderDot (fixed_order_sum.h) with explicit Highway SIMD. The 16
// partial sums are 16 / Lanes(d) accumulator vectors: lane l of accumulator k
// is partial sum k * Lanes(d) + l, updated by the same multiply and add as the
// scalar loop, so the result is bit-identical on every target.
//
// Include after "hwy/highway.h" inside a foreach_target translation unit.
#if defined(TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_INL_H_
#undef TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_INL_H_
#else
#define TURBOQUANT_SRC_UTIL_FIXED_ORDER_SUM_INL_H_
#endif

#include <cstddef>
#include <cstring>

#include "hwy/highway.h"
#include "src/util/fixed_order_sum.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_SCALAR || HWY_HAVE_SCALABLE
template <class D>
HWY_INLINE float FixedOrderDotSimd(D, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                                   size_t n) {
  return FixedOrderDot(a, b, n);
}
#else
// The pairwise tree inside one vector: lane j += lane j + Lanes / 2, down to
// lane 0, by halving the vector.
template <class D>
HWY_INLINE float SumTree(D, hn::Vec<D> v) {
  if constexpr (hn::MaxLanes(D()) == 1) {
    return hn::GetLane(v);
  } else {
    const hn::Half<D> dh;
    return SumTree(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
}

template <class D>
HWY_INLINE float FixedOrderDotSimd(D d, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                                   size_t n) {
  constexpr size_t kLanes = hn::MaxLanes(D());
  if constexpr (kLanes > kFixedOrderPartials || kFixedOrderPartials % kLanes != 0) {
    return FixedOrderDot(a, b, n);
  } else {
    constexpr size_t kAccumulators = kFixedOrderPartials / kLanes;
    hn::Vec<D> acc[kAccumulators];
    for (size_t k = 0; k < kAccumulators; ++k) acc[k] = hn::Zero(d);
    size_t i = 0;
    for (; i + kFixedOrderPartials <= n; i += kFixedOrderPartials) {
      for (size_t k = 0; k < kAccumulators; ++k) {
        const size_t at = i + k * kLanes;
        acc[k] = hn::Add(acc[k], hn::Mul(hn::LoadU(d, a + at), hn::LoadU(d, b + at)));
      }
    }
    // The last n - i < 16 products go to partial sums 0 .. n - i - 1 only.
    // They are copied to zero-padded buffers: (masked) loads straight from a
    // and b could read past their ends.
    if (i < n) {
      alignas(64) float tail_a[kFixedOrderPartials] = {};
      alignas(64) float tail_b[kFixedOrderPartials] = {};
      std::memcpy(tail_a, a + i, (n - i) * sizeof(float));
      std::memcpy(tail_b, b + i, (n - i) * sizeof(float));
      for (size_t k = 0; k < kAccumulators && i + k * kLanes < n; ++k) {
        const auto mask = hn::FirstN(d, n - i - k * kLanes);
        const auto product = hn::Mul(hn::Load(d, tail_a + k * kLanes), hn::Load(d, tail_b + k * kLanes));
        acc[k] = hn::IfThenElse(mask, hn::Add(acc[k], product), acc[k]);
      }
    }
    // Tree widths >= kLanes pair whole accumulators, the rest are in-vector.
    for (size_t count = kAccumulators; count > 1; count /= 2) {
      for (size_t k = 0; k < count / 2; ++k) acc[k] = hn::Add(acc[k], acc[k + count / 2]);
    }
    return SumTree(d, acc[0]);
  }
}
#endif

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
