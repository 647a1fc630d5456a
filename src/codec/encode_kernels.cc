// Per-target fused encoder (see encode_kernels.h). Every step is a SIMD
// version of a scalar reference step that computes the same IEEE operations:
//   norm       FixedOrderDotSimd        (util/fixed_order_sum-inl.h)
//   rotation   RotateForward            (hadamard-inl.h), fused with x / norm
//   quantize   QuantizeAndReconstruct  (quantize-inl.h)
//   pack       PackIndices              (below: bitpack.h's SWAR steps on every
//                                        64-bit lane of a vector)
//   QJL signs  PackSignBits             (below: one mask per vector)
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/codec/encode_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "src/codec/hadamard-inl.h"
#include "src/codec/quantize-inl.h"
#include "src/util/fixed_order_sum-inl.h"

#ifndef TURBOQUANT_SRC_CODEC_ENCODE_KERNELS_ONCE_
#define TURBOQUANT_SRC_CODEC_ENCODE_KERNELS_ONCE_
#include <cmath>
#include <cstring>

#include "src/codec/bitpack.h"
#include "src/codec/encode_kernels.h"
#include "src/codec/encode_steps.h"

namespace turboquant::internal {

// Working buffers of one thread, dim floats (or bytes) each.
struct EncoderScratch {
  float* rotated;
  float* reconstructed;
  float* residual;
  float* projected;
  float* permuted;  // the rotation's ping-pong buffer
  uint8_t* indices;
};

}  // namespace turboquant::internal
#endif

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// PackBits for the leading whole vectors' worth of values: the SWAR steps
// of EightValuePacking on every 64-bit lane (eight values each), then each
// lane's kBits bytes are stored, as 8-byte stores that the next lane
// overwrites while they stay inside the packed groups. Returns the values done.
template <int kBits>
size_t PackGroupsSimd(const uint8_t* HWY_RESTRICT values, size_t count, uint8_t* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_SCALAR || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
  (void)values, (void)count, (void)out;
  return 0;  // the scalar PackBits does it all
#else
  using P = EightValuePacking<kBits>;
  const hn::ScalableTag<uint64_t> d64;
  const hn::Repartition<uint8_t, decltype(d64)> d8;
  const size_t lanes = hn::Lanes(d64);
  const size_t total_bytes = count / 8 * kBits;
  alignas(64) uint64_t words[HWY_MAX_BYTES / sizeof(uint64_t)];
  size_t group = 0;
  for (; (group + lanes) * 8 <= count; group += lanes) {
    auto v = hn::BitCast(d64, hn::LoadU(d8, values + group * 8));
    v = hn::Or(hn::And(v, hn::Set(d64, P::kLow1)),
               hn::And(hn::ShiftRight<P::kShift1>(v), hn::Set(d64, P::kHigh1)));
    v = hn::Or(hn::And(v, hn::Set(d64, P::kLow2)),
               hn::And(hn::ShiftRight<P::kShift2>(v), hn::Set(d64, P::kHigh2)));
    v = hn::Or(hn::And(v, hn::Set(d64, P::kLow3)),
               hn::And(hn::ShiftRight<P::kShift3>(v), hn::Set(d64, P::kHigh3)));
    hn::Store(v, d64, words);
    for (size_t l = 0; l < lanes; ++l) {
      const size_t at = (group + l) * kBits;
      if (at + 8 <= total_bytes) {
        std::memcpy(out + at, &words[l], 8);  // constant sizes: one store each
      } else {
        std::memcpy(out + at, &words[l], kBits);
      }
    }
  }
  return group * 8;
#endif
}

// PackBits(indices, n, bits, out), the bulk in SIMD.
inline void PackIndices(const uint8_t* HWY_RESTRICT indices, size_t n, int bits,
                        uint8_t* HWY_RESTRICT out) {
  size_t done = 0;
  switch (bits) {
    case 1: done = PackGroupsSimd<1>(indices, n, out); break;
    case 2: done = PackGroupsSimd<2>(indices, n, out); break;
    case 3: done = PackGroupsSimd<3>(indices, n, out); break;
    case 4: done = PackGroupsSimd<4>(indices, n, out); break;
    case 5: done = PackGroupsSimd<5>(indices, n, out); break;
    case 6: done = PackGroupsSimd<6>(indices, n, out); break;
    case 7: done = PackGroupsSimd<7>(indices, n, out); break;
    default: break;  // 8 bits: PackBits copies
  }
  if (done < n) PackBits(indices + done, n - done, bits, out + done / 8 * bits);
}

// Bit i of out (LSB first) = v[i] >= 0, as PackBits(v[i] >= 0 ? 1 : 0, 1 bit):
// the comparison mask of a vector is already that bit string.
template <class D>
void PackSignBits(D d, const float* HWY_RESTRICT v, size_t n, uint8_t* HWY_RESTRICT out) {
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  if (lanes % 8 == 0) {
    for (; i + lanes <= n; i += lanes) {
      hn::StoreMaskBits(d, hn::Ge(hn::LoadU(d, v + i), hn::Zero(d)), out + i / 8);
    }
  }
  for (; i < n; i += 8) {  // i is a multiple of 8 here
    uint8_t byte = 0;
    for (size_t k = 0; k < 8 && i + k < n; ++k) byte |= (v[i + k] >= 0.0f ? 1 : 0) << k;
    out[i / 8] = byte;
  }
}

// rotated = R * (x / ||x||); returns ||x||. A zero vector gives rotated = 0.
template <class D>
float RotateDirection(D d, const HadamardPlan& rotation, const float* HWY_RESTRICT x,
                      const EncoderScratch& s) {
  const float norm = std::sqrt(FixedOrderDotSimd(d, x, x, rotation.dim));
  if (norm == 0.0f) {
    std::memset(s.rotated, 0, rotation.dim * sizeof(float));
  } else {
    RotateForward<RoundLoad::kScaleAndSigns>(rotation, x, 1.0f / norm, s.rotated, s.permuted);
  }
  return norm;
}

// MseCodec: indices, then the renormalization scale ||x|| / <u_hat, u>.
template <class D>
void EncodeMseRow(D d, const EncoderPlan& plan, const float* HWY_RESTRICT x,
                  const EncoderScratch& s, uint8_t* HWY_RESTRICT code) {
  const size_t n = plan.dim;
  const float norm = RotateDirection(d, *plan.rotation, x, s);
  QuantizeAndReconstruct(d, *plan.codebook, s.rotated, n, s.indices, s.reconstructed, nullptr);
  PackIndices(s.indices, n, plan.codebook->bits(), code);
  const float alignment = FixedOrderDotSimd(d, s.reconstructed, s.rotated, n);
  const float scale = alignment > 0.0f ? norm / alignment : norm;
  StoreScalars(norm, scale, code + plan.code_size);
}

// ProdCodec: (b-1)-bit indices, sign bits of S * residual, and ||residual||.
template <class D>
void EncodeProdRow(D d, const EncoderPlan& plan, const float* HWY_RESTRICT x,
                   const EncoderScratch& s, uint8_t* HWY_RESTRICT code) {
  const size_t n = plan.dim;
  const float norm = RotateDirection(d, *plan.rotation, x, s);
  QuantizeAndReconstruct(d, *plan.codebook, s.rotated, n, s.indices, nullptr, s.residual);
  PackIndices(s.indices, n, plan.codebook->bits(), code);
  const float gamma = std::sqrt(FixedOrderDotSimd(d, s.residual, s.residual, n));
  RotateForward<RoundLoad::kSigns>(*plan.qjl_rotation, s.residual, 1.0f, s.projected, s.permuted);
  PackSignBits(d, s.projected, n, code + PackedSize(n, plan.codebook->bits()));
  StoreScalars(norm, gamma, code + plan.code_size);
}

void EncodeRowsKernel(const EncoderPlan& plan, const float* rows, size_t count, uint8_t* codes,
                      const EncoderScratch& scratch) {
  const hn::ScalableTag<float> d;
  for (size_t r = 0; r < count; ++r) {
    const float* x = rows + r * plan.dim;
    uint8_t* code = codes + r * plan.code_size;
    // The next row streams in while this one is encoded (large rows would
    // otherwise wait on memory at their first touch, the norm).
    if (r + 1 < count) {
      const char* next = reinterpret_cast<const char*>(x + plan.dim);
      for (size_t byte = 0; byte < plan.dim * sizeof(float); byte += 64) {
        hwy::Prefetch(next + byte);
      }
    }
    if (plan.qjl_rotation != nullptr) {
      EncodeProdRow(d, plan, x, scratch, code);
    } else {
      EncodeMseRow(d, plan, x, scratch, code);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "hwy/aligned_allocator.h"
#include "src/codec/codebook.h"
#include "src/codec/rotation.h"

namespace turboquant::internal {

HWY_EXPORT(EncodeRowsKernel);

namespace {

// Thread-local buffers, grown on demand; each starts on a 64-byte boundary.
const EncoderScratch& ScratchForThread(size_t dim) {
  thread_local hwy::AlignedFreeUniquePtr<float[]> memory;
  thread_local size_t capacity = 0;  // floats per buffer
  thread_local EncoderScratch scratch;
  if (capacity < dim) {
    capacity = (dim + 15) / 16 * 16;
    memory = hwy::AllocateAligned<float>(6 * capacity);
    float* base = memory.get();
    scratch = {base, base + capacity, base + 2 * capacity, base + 3 * capacity,
               base + 4 * capacity, reinterpret_cast<uint8_t*>(base + 5 * capacity)};
  }
  return scratch;
}

// The kernel's view of a codec; false for rotations other than Hadamard.
bool MakeEncoderPlan(const Codec& codec, EncoderPlan* plan) {
  plan->dim = static_cast<size_t>(codec.dim());
  plan->code_size = codec.code_size();
  if (codec.kind() == CodecKind::kMse) {
    const auto& mse = static_cast<const MseCodec&>(codec);
    plan->rotation = mse.rotation().hadamard_plan();
    plan->codebook = &mse.codebook();
    plan->qjl_rotation = nullptr;
    return plan->rotation != nullptr;
  }
  const auto& prod = static_cast<const ProdCodec&>(codec);
  plan->rotation = prod.rotation().hadamard_plan();
  plan->codebook = &prod.codebook();
  plan->qjl_rotation = prod.qjl_rotation().hadamard_plan();
  return plan->rotation != nullptr && plan->qjl_rotation != nullptr;
}

}  // namespace

void EncodeRows(const Codec& codec, const float* rows, size_t count, uint8_t* codes) {
  EncoderPlan plan;
  if (MakeEncoderPlan(codec, &plan)) {
    HWY_DYNAMIC_DISPATCH(EncodeRowsKernel)(plan, rows, count, codes,
                                           ScratchForThread(plan.dim));
    return;
  }
  for (size_t r = 0; r < count; ++r) {
    EncodeReference(codec, rows + r * plan.dim, codes + r * plan.code_size);
  }
}

}  // namespace turboquant::internal
#endif  // HWY_ONCE
