// Per-target kernels of the randomized Hadamard rotation: the fast
// Walsh-Hadamard transform (FWHT) of a power-of-two block and the sign flips.
//
// Bit-exactness across targets: every output lane is produced by the same
// sequence of IEEE additions as the scalar reference (stage h = 1, 2, 4, ...;
// a + b in the low half of each pair, a - b in the high half), whatever the
// vector width. Codes therefore do not depend on the CPU that encoded them.
//
// Include this file after "hwy/highway.h" inside a foreach_target translation
// unit (see rotation.cc); it is re-included once per target.
#if defined(TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_
#undef TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_
#else
#define TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Scalar FWHT with the stage order every SIMD path reproduces.
inline void FastWalshHadamardScalar(float* HWY_RESTRICT x, size_t n) {
  for (size_t h = 1; h < n; h <<= 1) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        const float a = x[j];
        const float b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

// Unnormalized in-place FWHT of x[0, n), n a power of two.
inline void FastWalshHadamard(float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t lanes = hn::Lanes(d);
  if (lanes == 1 || n < lanes) return FastWalshHadamardScalar(x, n);

  // Stages with h < lanes pair lanes inside one vector: lane i meets lane
  // i ^ h; the lane with bit h clear keeps partner + v, the other partner - v.
  const auto iota = hn::Iota(di, 0);
  for (size_t i = 0; i < n; i += lanes) {
    auto v = hn::LoadU(d, x + i);
    for (size_t h = 1; h < lanes; h <<= 1) {
      const auto bit = hn::Set(di, static_cast<int32_t>(h));
      const auto partner = hn::TableLookupLanes(v, hn::IndicesFromVec(d, hn::Xor(iota, bit)));
      const auto high = hn::RebindMask(d, hn::Eq(hn::And(iota, bit), bit));
      v = hn::Add(partner, hn::IfThenElse(high, hn::Neg(v), v));
    }
    hn::StoreU(v, d, x + i);
  }
  // Stages with h >= lanes pair whole vectors.
  for (size_t h = lanes; h < n; h <<= 1) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; j += lanes) {
        const auto a = hn::LoadU(d, x + j);
        const auto b = hn::LoadU(d, x + j + h);
        hn::StoreU(hn::Add(a, b), d, x + j);
        hn::StoreU(hn::Sub(a, b), d, x + j + h);
      }
    }
  }
}

// x[i] *= signs[i]; the signs carry the block's 1/sqrt(n) normalization.
inline void MultiplySigns(const float* HWY_RESTRICT signs, float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Mul(hn::LoadU(d, x + i), hn::LoadU(d, signs + i)), d, x + i);
  }
  for (; i < n; ++i) x[i] *= signs[i];
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
