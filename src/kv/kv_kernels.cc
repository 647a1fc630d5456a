// SIMD kernels of the compressed KV cache (Highway foreach_target + dynamic
// dispatch), plus the exact float32 attention used as the reference.
//
// Key scores: SIMD lanes are tokens. For each lookup unit (see kv_layout.h) the
// 16 tokens' fields are decoded once (two u32 loads, a variable shift, a mask)
// and every query head of the pass adds TableLookupLanes(its 16-float table,
// fields). With 16 float lanes (AVX-512) a table is one register; with 8
// (AVX2) it is two lookups and a select. Per-token scalars (norm, angle, gamma)
// weight the per-group sums at the end of the block.
// Values: SIMD lanes are rotated dimensions. Per 16 tokens and lane-chunk of a
// group, the accumulators of all query heads stay in registers while each
// token's indices are decoded, mapped to centroids and added with its
// softmax weight times its scale.
// Targets with fewer than 8 float lanes run the scalar reference kernels.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kv/kv_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "src/kv/kv_layout.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#undef TQ_KV_WIDE_SIMD
#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
#define TQ_KV_WIDE_SIMD 1
#else
#define TQ_KV_WIDE_SIMD 0
#endif

#if TQ_KV_WIDE_SIMD
using DF = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<DF>;
using DU = hn::RebindToUnsigned<DF>;
constexpr size_t kLanes = HWY_MAX_BYTES / sizeof(float);  // 8 or 16
constexpr size_t kHalves = kKvBlockTokens / kLanes;        // 2 or 1

// Fields [half * kLanes, (half + 1) * kLanes) of a 16-field unit of `width`
// bits per field; `shifts` holds (lane % 8) * width.
HWY_INLINE hn::Vec<DI> DecodeUnit(const uint8_t* unit, int width, size_t half,
                                  hn::Vec<DU> shifts, hn::Vec<DU> mask) {
  const DU du;
  const DI di;
  hn::Vec<DU> words;
  if constexpr (kLanes == 16) {
    (void)half;
    words = hn::ConcatUpperLower(du, hn::Set(du, LoadU32(unit + width)), hn::Set(du, LoadU32(unit)));
  } else {
    words = hn::Set(du, LoadU32(unit + half * width));
  }
  return hn::BitCast(di, hn::And(hn::Shr(words, shifts), mask));
}

HWY_INLINE hn::Vec<DU> FieldShifts(int width) {
  const DU du;
  return hn::Mul(hn::And(hn::Iota(du, 0), hn::Set(du, 7u)), hn::Set(du, static_cast<uint32_t>(width)));
}

HWY_INLINE hn::Vec<DU> FieldMask(int width) {
  const DU du;
  return hn::Set(du, (1u << width) - 1);
}

// table[idx] for a 16-entry float table.
HWY_INLINE hn::Vec<DF> Lookup16(const float* HWY_RESTRICT table, hn::Vec<DI> idx) {
  const DF d;
  if constexpr (kLanes == 16) {
    return hn::TableLookupLanes(hn::LoadU(d, table), hn::IndicesFromVec(d, idx));
  } else {
    const DI di;
    const auto low_idx = hn::IndicesFromVec(d, hn::And(idx, hn::Set(di, 7)));
    const auto low = hn::TableLookupLanes(hn::LoadU(d, table), low_idx);
    const auto high = hn::TableLookupLanes(hn::LoadU(d, table + 8), low_idx);
    return hn::IfThenElse(hn::RebindMask(d, hn::Gt(idx, hn::Set(di, 7))), high, low);
  }
}

template <int H>
void ScanKeyBlocksT(const KeyScanArgs& a) {
  const DF d;
  const KeyBlockLayout& layout = *a.layout;
  const size_t units = static_cast<size_t>(layout.total_units);
  for (size_t b = 0; b < a.num_blocks; ++b) {
    const uint8_t* block = a.blocks + b * layout.block_bytes;
    HWY_ALIGN float mse_coef[kKvMaxGroups][kKvBlockTokens];
    HWY_ALIGN float qjl_coef[kKvMaxGroups][kKvBlockTokens];
    DecodeKeyCoefficients(layout, *a.decode, block, mse_coef, qjl_coef);
    for (size_t half = 0; half < kHalves; ++half) {
      hn::Vec<DF> total[H];
      for (int h = 0; h < H; ++h) total[h] = hn::Zero(d);
      size_t unit_index = 0;
      for (int g = 0; g < layout.num_groups; ++g) {
        const KeyGroupLayout& group = layout.groups[g];
        for (int part = 0; part < 2; ++part) {
          const int width = part == 0 ? group.mse_width : 4;
          const int count = part == 0 ? group.mse_units : group.sign_units;
          const uint8_t* unit = block + (part == 0 ? group.mse_offset : group.sign_offset);
          const auto shifts = FieldShifts(width);
          const auto mask = FieldMask(width);
          hn::Vec<DF> acc[H];
          for (int h = 0; h < H; ++h) acc[h] = hn::Zero(d);
          const float* table = a.tables + unit_index * 16;
          for (int u = 0; u < count; ++u, unit += 2 * width, table += 16) {
            const auto idx = DecodeUnit(unit, width, half, shifts, mask);
            for (int h = 0; h < H; ++h) {
              acc[h] = hn::Add(acc[h], Lookup16(table + h * units * 16, idx));
            }
          }
          const float* coef = (part == 0 ? mse_coef[g] : qjl_coef[g]) + half * kLanes;
          const auto c = hn::Load(d, coef);
          for (int h = 0; h < H; ++h) total[h] = hn::MulAdd(acc[h], c, total[h]);
          unit_index += static_cast<size_t>(count);
        }
      }
      for (int h = 0; h < H; ++h) {
        hn::StoreU(total[h], d, a.scores + h * a.scores_stride + b * kKvBlockTokens + half * kLanes);
      }
    }
  }
}

template <int H>
void AccumulateValuesT(const ValueAccumulateArgs& a) {
  const DF d;
  const ValueCodeLayout& layout = *a.layout;
  for (size_t t0 = 0; t0 < a.num_tokens; t0 += kKvBlockTokens) {
    const size_t nt = std::min<size_t>(kKvBlockTokens, a.num_tokens - t0);
    float coef[kKvMaxGroups][kKvBlockTokens][H];
    for (size_t t = 0; t < nt; ++t) {
      const uint8_t* code = a.codes + (t0 + t) * layout.code_bytes;
      for (int g = 0; g < layout.num_groups; ++g) {
        uint16_t s16;
        std::memcpy(&s16, code + layout.scale_offset + 2 * g, 2);
        const float scale = Bf16ToFloat(s16);
        for (int h = 0; h < H; ++h) coef[g][t][h] = a.weights[h * a.weights_stride + t0 + t] * scale;
      }
    }
    size_t acc_offset = 0;
    for (int g = 0; g < layout.num_groups; ++g) {
      const ValueGroupLayout& group = layout.groups[g];
      const int width = group.bits;
      const auto shifts = FieldShifts(width);
      const auto mask = FieldMask(width);
      const float* centroids = a.centroids + g * 16;
      const size_t chunks = static_cast<size_t>(group.dim) / kLanes;
      for (size_t c = 0; c < chunks; ++c) {
        float* acc_ptr = a.acc + acc_offset + c * kLanes;
        hn::Vec<DF> acc[H];
        for (int h = 0; h < H; ++h) acc[h] = hn::LoadU(d, acc_ptr + h * a.acc_stride);
        const size_t unit_offset = (c * kLanes / 16) * 2 * width + group.index_offset;
        const size_t half = (c * kLanes / 8) & 1;
        const uint8_t* code = a.codes + t0 * layout.code_bytes + unit_offset;
        for (size_t t = 0; t < nt; ++t, code += layout.code_bytes) {
          const auto value = Lookup16(centroids, DecodeUnit(code, width, half, shifts, mask));
          for (int h = 0; h < H; ++h) acc[h] = hn::MulAdd(hn::Set(d, coef[g][t][h]), value, acc[h]);
        }
        for (int h = 0; h < H; ++h) hn::StoreU(acc[h], d, acc_ptr + h * a.acc_stride);
      }
      acc_offset += static_cast<size_t>(group.dim);
    }
  }
}

template <int H>
void ExactHeadAttentionT(const float* queries, size_t query_stride, int dim, const float* keys,
                         const float* values, size_t row_stride, size_t num_tokens, float scale,
                         float* scratch, float* out, size_t out_stride) {
  const DF d;
  const size_t n = static_cast<size_t>(dim);
  for (size_t t = 0; t < num_tokens; ++t) {
    const float* k = keys + t * row_stride;
    hn::Vec<DF> acc[H];
    for (int h = 0; h < H; ++h) acc[h] = hn::Zero(d);
    for (size_t i = 0; i < n; i += kLanes) {
      const auto kv = hn::LoadU(d, k + i);
      for (int h = 0; h < H; ++h) acc[h] = hn::MulAdd(kv, hn::LoadU(d, queries + h * query_stride + i), acc[h]);
    }
    for (int h = 0; h < H; ++h) {
      scratch[h * num_tokens + t] = hn::GetLane(hn::SumOfLanes(d, acc[h])) * scale;
    }
  }
  float inverse_sum[H];
  for (int h = 0; h < H; ++h) inverse_sum[h] = 1.0f / SoftmaxExp(scratch + h * num_tokens, num_tokens);
  for (int h = 0; h < H; ++h) std::memset(out + h * out_stride, 0, n * sizeof(float));
  for (size_t t0 = 0; t0 < num_tokens; t0 += kKvBlockTokens) {
    const size_t nt = std::min<size_t>(kKvBlockTokens, num_tokens - t0);
    for (size_t i = 0; i < n; i += kLanes) {
      hn::Vec<DF> acc[H];
      for (int h = 0; h < H; ++h) acc[h] = hn::LoadU(d, out + h * out_stride + i);
      for (size_t t = 0; t < nt; ++t) {
        const auto v = hn::LoadU(d, values + (t0 + t) * row_stride + i);
        for (int h = 0; h < H; ++h) {
          acc[h] = hn::MulAdd(hn::Set(d, scratch[h * num_tokens + t0 + t]), v, acc[h]);
        }
      }
      for (int h = 0; h < H; ++h) hn::StoreU(acc[h], d, out + h * out_stride + i);
    }
  }
  for (int h = 0; h < H; ++h) {
    for (size_t i = 0; i < n; ++i) out[h * out_stride + i] *= inverse_sum[h];
  }
}
#endif  // TQ_KV_WIDE_SIMD

void ScanKeyBlocksImpl(const KeyScanArgs& a) {
#if TQ_KV_WIDE_SIMD
  switch (a.num_heads) {
    case 1: return ScanKeyBlocksT<1>(a);
    case 2: return ScanKeyBlocksT<2>(a);
    case 3: return ScanKeyBlocksT<3>(a);
    default: return ScanKeyBlocksT<4>(a);
  }
#else
  ScanKeyBlocksReference(a);
#endif
}

void AccumulateValuesImpl(const ValueAccumulateArgs& a) {
#if TQ_KV_WIDE_SIMD
  switch (a.num_heads) {
    case 1: return AccumulateValuesT<1>(a);
    case 2: return AccumulateValuesT<2>(a);
    case 3: return AccumulateValuesT<3>(a);
    default: return AccumulateValuesT<4>(a);
  }
#else
  AccumulateValuesReference(a);
#endif
}

float SoftmaxExpImpl(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  float max_value = x[0];
  size_t i = 0;
  if (n >= lanes) {
    auto m = hn::LoadU(d, x);
    for (i = lanes; i + lanes <= n; i += lanes) m = hn::Max(m, hn::LoadU(d, x + i));
    max_value = hn::GetLane(hn::MaxOfLanes(d, m));
  }
  for (; i < n; ++i) max_value = std::max(max_value, x[i]);
  const auto vmax = hn::Set(d, max_value);
  auto sum = hn::Zero(d);
  for (i = 0; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vmax));
    hn::StoreU(e, d, x + i);
    sum = hn::Add(sum, e);
  }
  float total = hn::GetLane(hn::SumOfLanes(d, sum));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    total += x[i];
  }
  return total;
}

void ExactHeadAttentionImpl(const float* queries, size_t query_stride, int num_heads, int dim,
                            const float* keys, const float* values, size_t row_stride,
                            size_t num_tokens, float scale, float* scratch, float* out,
                            size_t out_stride) {
#if TQ_KV_WIDE_SIMD
  if (dim % static_cast<int>(kLanes) == 0) {
    switch (num_heads) {
      case 1: return ExactHeadAttentionT<1>(queries, query_stride, dim, keys, values, row_stride, num_tokens, scale, scratch, out, out_stride);
      case 2: return ExactHeadAttentionT<2>(queries, query_stride, dim, keys, values, row_stride, num_tokens, scale, scratch, out, out_stride);
      case 3: return ExactHeadAttentionT<3>(queries, query_stride, dim, keys, values, row_stride, num_tokens, scale, scratch, out, out_stride);
      default: return ExactHeadAttentionT<4>(queries, query_stride, dim, keys, values, row_stride, num_tokens, scale, scratch, out, out_stride);
    }
  }
#endif
  const size_t n = static_cast<size_t>(dim);
  for (int h = 0; h < num_heads; ++h) {
    float* s = scratch + h * num_tokens;
    for (size_t t = 0; t < num_tokens; ++t) {
      float dot = 0;
      for (size_t i = 0; i < n; ++i) dot += queries[h * query_stride + i] * keys[t * row_stride + i];
      s[t] = dot * scale;
    }
    const float inverse_sum = 1.0f / SoftmaxExpImpl(s, num_tokens);
    float* o = out + h * out_stride;
    std::fill(o, o + n, 0.0f);
    for (size_t t = 0; t < num_tokens; ++t) {
      for (size_t i = 0; i < n; ++i) o[i] += s[t] * values[t * row_stride + i];
    }
    for (size_t i = 0; i < n; ++i) o[i] *= inverse_sum;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace turboquant::internal {

HWY_EXPORT(ScanKeyBlocksImpl);
HWY_EXPORT(AccumulateValuesImpl);
HWY_EXPORT(SoftmaxExpImpl);
HWY_EXPORT(ExactHeadAttentionImpl);

void ScanKeyBlocks(const KeyScanArgs& args) { HWY_DYNAMIC_DISPATCH(ScanKeyBlocksImpl)(args); }

void AccumulateValues(const ValueAccumulateArgs& args) {
  HWY_DYNAMIC_DISPATCH(AccumulateValuesImpl)(args);
}

float SoftmaxExp(float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(SoftmaxExpImpl)(x, n); }

void ExactHeadAttention(const float* queries, size_t query_stride, int num_heads, int dim,
                        const float* keys, const float* values, size_t row_stride,
                        size_t num_tokens, float scale, float* scratch, float* out,
                        size_t out_stride) {
  HWY_DYNAMIC_DISPATCH(ExactHeadAttentionImpl)(queries, query_stride, num_heads, dim, keys, values,
                                               row_stride, num_tokens, scale, scratch, out,
                                               out_stride);
}

}  // namespace turboquant::internal
#endif  // HWY_ONCE
