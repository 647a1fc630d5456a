// Per-target kernels of the randomized Hadamard rotation: the fast
// Walsh-Hadamard transform (FWHT) of power-of-two blocks, fused with the sign
// flips, the normalization of the encoder and the permutation between rounds.
//
// Bit-exactness across targets: every output lane is produced by the same
// sequence of IEEE operations as the scalar reference (stage h = 1, 2, 4, ...;
// a + b in the low half of each pair, a - b in the high half), whatever the
// vector width. Codes therefore do not depend on the CPU that encoded them.
// The fusions below only reorder independent operations:
//  - stages with h < lanes pair lanes inside one vector: lane i meets partner
//    lane i ^ h (one shuffle) and becomes MulAdd(v, +-1, partner), i.e.
//    partner + v or partner - v with one rounding, exactly the scalar sum
//    (multiplying by +-1 is exact, and IEEE addition is commutative);
//  - up to three stages with h >= lanes run on 2, 4 or 8 vectors held in
//    registers (radix-8), so the data is loaded and stored once per three
//    stages instead of once per stage;
//  - the first load of a round applies (x * scale) * sign, so the sign flips
//    and the encoder's normalization cost no pass of their own, and rounds
//    alternate between two buffers instead of copying. (The permutation
//    between rounds stays a scalar pass: AVX-512 gathers measured slower.)
//  - a dim that is one block of at most 8 vectors (128 on AVX-512) keeps all
//    three rounds in registers.
//
// Include this file after "hwy/highway.h" inside a foreach_target translation
// unit (see hadamard_rotation.cc); it is re-included once per target.
#if defined(TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_
#undef TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_
#else
#define TURBOQUANT_SRC_CODEC_HADAMARD_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "src/codec/hadamard_plan.h"

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

// What the first load of a round does to position p before the transform.
enum class RoundLoad {
  kPlain,          // value = in[p]                   (inverse rotation)
  kSigns,          // value = in[p] * signs[p]          (forward rotation)
  kScaleAndSigns,  // value = (in[p] * scale) * signs[p]  (encoder: x / ||x||)
};

// The input of one round.
struct RoundInput {
  const float* src;
  const float* signs;  // unused for kPlain
  float scale;         // used by kScaleAndSigns only
};

template <RoundLoad kLoad>
HWY_INLINE float LoadOne(const RoundInput& in, size_t p) {
  float v = in.src[p];
  if (kLoad == RoundLoad::kScaleAndSigns) v = v * in.scale;
  if (kLoad != RoundLoad::kPlain) v = v * in.signs[p];
  return v;
}

// Scalar reference of one block: the load of the round, then the FWHT.
template <RoundLoad kLoad>
void FwhtBlockScalar(const RoundInput& in, size_t offset, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) out[offset + i] = LoadOne<kLoad>(in, offset + i);
  FastWalshHadamardScalar(out + offset, n);
}

// SIMD paths for fixed-width vectors of 4..16 floats (x86, NEON, WASM).
#if HWY_TARGET != HWY_SCALAR && !HWY_HAVE_SCALABLE

// +1 in lanes whose bit h is clear, -1 where it is set, for h = 1, 2, 4, 8.
// The pattern repeats every 2h lanes, so the first Lanes(d) entries of a row
// serve every vector width.
alignas(64) inline constexpr float kStageSigns[4][16] = {
    {1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1},
    {1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1},
    {1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1},
    {1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1},
};

template <RoundLoad kLoad, class D>
HWY_INLINE hn::Vec<D> LoadRound(D d, const RoundInput& in, size_t p) {
  hn::Vec<D> v = hn::LoadU(d, in.src + p);
  if constexpr (kLoad == RoundLoad::kScaleAndSigns) v = hn::Mul(v, hn::Set(d, in.scale));
  if constexpr (kLoad != RoundLoad::kPlain) v = hn::Mul(v, hn::LoadU(d, in.signs + p));
  return v;
}

// The FWHT stages with h < Lanes(d), inside one vector. Each is one shuffle
// bringing lane i ^ h next to lane i, and one exact MulAdd (see the top).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V InRegisterStages(D d, V v) {
  constexpr size_t kLanes = hn::MaxLanes(D());
  static_assert(kLanes >= 4 && kLanes <= 16, "x86/NEON/WASM vectors of 4..16 floats");
  v = hn::MulAdd(v, hn::LoadU(d, kStageSigns[0]), hn::Shuffle2301(v));
  v = hn::MulAdd(v, hn::LoadU(d, kStageSigns[1]), hn::Shuffle1032(v));
  if constexpr (kLanes >= 8) {
    // Partner lane i ^ 4: the neighbouring 128-bit block.
    v = hn::MulAdd(v, hn::LoadU(d, kStageSigns[2]), hn::SwapAdjacentBlocks(v));
  }
  if constexpr (kLanes >= 16) {
    // Partner lane i ^ 8: the other half of the vector.
    v = hn::MulAdd(v, hn::LoadU(d, kStageSigns[3]), hn::ConcatLowerUpper(d, v, v));
  }
  return v;
}

// Stages between whole vectors: v[k] meets v[k + h] for h = 1, 2, 4 < kCount,
// in this order (vector k of the group sits at distance k * stride).
template <size_t kCount, class V>
HWY_INLINE void VectorStages(V (&v)[kCount]) {
  for (size_t h = 1; h < kCount; h <<= 1) {
    for (size_t k = 0; k < kCount; ++k) {
      if (k & h) continue;
      const V a = v[k];
      const V b = v[k + h];
      v[k] = hn::Add(a, b);
      v[k + h] = hn::Sub(a, b);
    }
  }
}

// First pass over a block of n >= kCount * lanes values: every group of
// kCount consecutive vectors is loaded once (with the round's load), runs all
// in-register stages and the stages h = lanes .. (kCount / 2) * lanes, and is
// stored once.
template <size_t kCount, RoundLoad kLoad, class D>
void GroupPass(D d, const RoundInput& in, size_t offset, size_t n, float* out) {
  const size_t lanes = hn::Lanes(d);
  for (size_t i = offset; i < offset + n; i += kCount * lanes) {
    hn::Vec<D> v[kCount];
    for (size_t k = 0; k < kCount; ++k) {
      v[k] = InRegisterStages(d, LoadRound<kLoad>(d, in, i + k * lanes));
    }
    VectorStages(v);
    for (size_t k = 0; k < kCount; ++k) hn::StoreU(v[k], d, out + i + k * lanes);
  }
}

// In-place pass doing the stages h, 2h, .. (kCount / 2) * h of x[0, n) on
// groups of kCount vectors at stride h (h a multiple of the lanes).
template <size_t kCount, class D>
void StridedPass(D d, float* HWY_RESTRICT x, size_t n, size_t h) {
  const size_t lanes = hn::Lanes(d);
  for (size_t i = 0; i < n; i += kCount * h) {
    for (size_t j = i; j < i + h; j += lanes) {
      hn::Vec<D> v[kCount];
      for (size_t k = 0; k < kCount; ++k) v[k] = hn::LoadU(d, x + j + k * h);
      VectorStages(v);
      for (size_t k = 0; k < kCount; ++k) hn::StoreU(v[k], d, x + j + k * h);
    }
  }
}

template <RoundLoad kLoad, class D>
void FwhtBlockSimd(D d, const RoundInput& in, size_t offset, size_t n, float* out) {
  const size_t lanes = hn::Lanes(d);
  const size_t vectors = n / lanes;
  size_t done;  // the stages h < done are complete
  if (vectors >= 8) {
    GroupPass<8, kLoad>(d, in, offset, n, out);
    done = 8 * lanes;
  } else if (vectors == 4) {
    GroupPass<4, kLoad>(d, in, offset, n, out);
    done = 4 * lanes;
  } else if (vectors == 2) {
    GroupPass<2, kLoad>(d, in, offset, n, out);
    done = 2 * lanes;
  } else {
    GroupPass<1, kLoad>(d, in, offset, n, out);
    done = lanes;
  }
  float* block = out + offset;
  while (done < n) {
    if (8 * done <= n) {
      StridedPass<8>(d, block, n, done);
      done *= 8;
    } else if (4 * done <= n) {
      StridedPass<4>(d, block, n, done);
      done *= 4;
    } else {
      StridedPass<2>(d, block, n, done);
      done *= 2;
    }
  }
}

// The whole rotation of a single block of kCount vectors (d = 128 on
// AVX-512, d <= 64 on AVX2): all rounds stay in registers, with one load and
// one store per vector in all.
template <size_t kCount, RoundLoad kFirst, class D>
void RotateInRegisters(D d, const HadamardPlan& plan, const float* HWY_RESTRICT in, float scale,
                       float* HWY_RESTRICT out) {
  const size_t lanes = hn::Lanes(d);
  hn::Vec<D> v[kCount];
  const RoundInput first{in, plan.signs[0].data(), scale};
  for (size_t k = 0; k < kCount; ++k) {
    v[k] = InRegisterStages(d, LoadRound<kFirst>(d, first, k * lanes));
  }
  VectorStages(v);
  for (int r = 1; r < HadamardPlan::kRounds; ++r) {
    const float* signs = plan.signs[r].data();
    for (size_t k = 0; k < kCount; ++k) {
      v[k] = InRegisterStages(d, hn::Mul(v[k], hn::LoadU(d, signs + k * lanes)));
    }
    VectorStages(v);
  }
  for (size_t k = 0; k < kCount; ++k) hn::StoreU(v[k], d, out + k * lanes);
}

// Runs RotateInRegisters when dim is one block of 1, 2, 4 or 8 vectors.
template <RoundLoad kFirst>
bool TryRotateInRegisters(const HadamardPlan& plan, const float* HWY_RESTRICT in, float scale,
                          float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> d;
  if (plan.blocks.size() != 1 || plan.dim % hn::Lanes(d) != 0) return false;
  switch (plan.dim / hn::Lanes(d)) {
    case 8: RotateInRegisters<8, kFirst>(d, plan, in, scale, out); return true;
    case 4: RotateInRegisters<4, kFirst>(d, plan, in, scale, out); return true;
    case 2: RotateInRegisters<2, kFirst>(d, plan, in, scale, out); return true;
    case 1: RotateInRegisters<1, kFirst>(d, plan, in, scale, out); return true;
    default: return false;
  }
}
#endif  // SIMD FWHT

// One power-of-two block of one round: out[offset, offset + n) = H * load(in).
template <RoundLoad kLoad>
void FwhtBlock(const RoundInput& in, size_t offset, size_t n, float* out) {
#if HWY_TARGET != HWY_SCALAR && !HWY_HAVE_SCALABLE
  const hn::ScalableTag<float> d;
  if (n >= hn::Lanes(d)) return FwhtBlockSimd<kLoad>(d, in, offset, n, out);
#endif
  FwhtBlockScalar<kLoad>(in, offset, n, out);
}

// All blocks of one round.
template <RoundLoad kLoad>
void FwhtRound(const HadamardPlan& plan, const RoundInput& in, float* out) {
  for (const HadamardBlock& block : plan.blocks) {
    FwhtBlock<kLoad>(in, block.offset, block.size, out);
  }
}

// out = R * (in * scale) (kFirst = kScaleAndSigns) or out = R * in (kSigns).
// `scratch` holds dim floats; `in` may be neither `out` nor `scratch`. Rounds
// alternate between out and scratch so that the last one lands in out; a
// round after a permutation first gathers into its destination and then
// transforms in place (each group is loaded before it is stored).
template <RoundLoad kFirst>
void RotateForward(const HadamardPlan& plan, const float* HWY_RESTRICT in, float scale,
                   float* HWY_RESTRICT out, float* HWY_RESTRICT scratch) {
  static_assert(kFirst != RoundLoad::kPlain, "the forward rotation starts with signs");
#if HWY_TARGET != HWY_SCALAR && !HWY_HAVE_SCALABLE
  if (TryRotateInRegisters<kFirst>(plan, in, scale, out)) return;
#endif
  constexpr int kRounds = HadamardPlan::kRounds;
  const float* src = in;
  for (int r = 0; r < kRounds; ++r) {
    float* dest = (kRounds - 1 - r) % 2 == 0 ? out : scratch;
    if (r > 0 && !plan.permutations[r - 1].empty()) {
      const uint32_t* perm = plan.permutations[r - 1].data();
      for (size_t i = 0; i < plan.dim; ++i) dest[i] = src[perm[i]];
      src = dest;
    }
    const RoundInput input{src, plan.signs[r].data(), scale};
    if (r == 0) {
      FwhtRound<kFirst>(plan, input, dest);
    } else {
      FwhtRound<RoundLoad::kSigns>(plan, input, dest);
    }
    src = dest;
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

// out = R^T * in: the rounds backwards, each the inverse permutation, the
// FWHT (its own inverse up to the scale the signs carry) and the signs.
inline void RotateInverse(const HadamardPlan& plan, const float* HWY_RESTRICT in,
                          float* HWY_RESTRICT out, float* HWY_RESTRICT scratch) {
  const float* src = in;
  for (int r = HadamardPlan::kRounds - 1; r >= 0; --r) {
    if (r + 1 < HadamardPlan::kRounds && !plan.permutations[r].empty()) {
      const uint32_t* perm = plan.permutations[r].data();
      for (size_t i = 0; i < plan.dim; ++i) scratch[perm[i]] = src[i];
      src = scratch;
    }
    FwhtRound<RoundLoad::kPlain>(plan, RoundInput{src, nullptr, 1.0f}, out);
    MultiplySigns(plan.signs[r].data(), out, plan.dim);
    src = out;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
