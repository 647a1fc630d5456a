// Storage layout of the compressed KV cache and the kernels that read it.
//
// Keys: blocks of 16 tokens per KV head. Each channel group g (one or two, see
// kv_cache.h) contributes "lookup units": a unit covers `dims_per_unit`
// consecutive rotated coordinates whose fields (mse index bits, or QJL sign
// bits) form one value of `width` <= 4 bits per token. A unit stores the 16
// tokens' fields densely, LSB first: token t at bits [t * width, (t+1) * width)
// of 2 * width bytes, so tokens 0..7 sit in the low u32 and tokens 8..15 in the
// u32 starting at byte `width`. Per query head, each unit has a 16-entry float
// table (the partial inner product for every field value), and a SIMD lane per
// token sums table lookups: no key is ever decompressed.
//   block = [g0 mse units][g0 sign units][g1 mse units][g1 sign units]
//           [16 x bf16 norm][two groups: 16 x u8 angle][16 x u8 gamma codes]
// Values: one code per token and KV head, dims as SIMD lanes:
//   [g0 indices, bit-packed LSB first][g1 indices][bf16 scale g0][bf16 scale g1]
#ifndef TURBOQUANT_SRC_KV_KV_LAYOUT_H_
#define TURBOQUANT_SRC_KV_KV_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace turboquant::internal {

constexpr int kKvBlockTokens = 16;
constexpr int kKvMaxGroups = 2;
constexpr int kKvMaxHeadsPerPass = 4;  // query heads sharing one decode of the codes
constexpr size_t kKvPadBytes = 8;      // slack after code arrays for u32 loads

inline float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even; finite inputs below the bf16 maximum stay finite.
inline uint16_t FloatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

inline uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Field t (< 16) of a unit of `width` bits per token.
inline uint32_t UnitField(const uint8_t* unit, int width, int t) {
  const uint32_t word = LoadU32(unit + (t >> 3) * width);
  return (word >> ((t & 7) * width)) & ((1u << width) - 1);
}

struct KeyGroupLayout {
  int dim = 0;                // channels in the group
  int mse_bits = 0;           // prod bits - 1
  int mse_dims_per_unit = 0;  // 4 (1 bit), 2 (2 bits), 1 (3 or 4 bits)
  int mse_width = 0;          // bits per mse field
  int mse_units = 0;
  int sign_units = 0;         // dim / 4, width 4
  size_t mse_offset = 0;      // byte offsets inside a block
  size_t sign_offset = 0;
  int units() const { return mse_units + sign_units; }
};

struct KeyBlockLayout {
  int num_groups = 1;
  KeyGroupLayout groups[kKvMaxGroups];
  size_t norm_offset = 0;   // 16 x bf16
  size_t angle_offset = 0;  // 16 x u8 (two groups only)
  size_t gamma_offset = 0;  // 16 x u8: 8 bits (one group) or 4 + 4 bits
  size_t block_bytes = 0;
  int total_units = 0;
};

// Per-token coefficients of a key decoded from the block scalars: the score is
// sum_g mse_coef[g] * <q_g', y_hat_g> + qjl_coef[g] * <S q_g', signs_g>.
struct KeyDecodeTables {
  float cos_angle[256];
  float sin_angle[256];
  float gamma_step[kKvMaxGroups];  // gamma = code * step
  float qjl_scale[kKvMaxGroups];   // c of the estimator
};

void DecodeKeyCoefficients(const KeyBlockLayout& layout, const KeyDecodeTables& tables,
                           const uint8_t* block, float mse_coef[kKvMaxGroups][kKvBlockTokens],
                           float qjl_coef[kKvMaxGroups][kKvBlockTokens]);

struct ValueGroupLayout {
  int dim = 0;
  int bits = 0;
  size_t index_offset = 0;  // inside a token's code
};

struct ValueCodeLayout {
  int num_groups = 1;
  ValueGroupLayout groups[kKvMaxGroups];
  size_t scale_offset = 0;  // num_groups x bf16
  size_t code_bytes = 0;
};

// Scores of `num_blocks` key blocks for `num_heads` (<= 4) query heads.
// tables: [head][unit][16] with units in block order (all groups);
// scores: [head][num_blocks * 16].
struct KeyScanArgs {
  const KeyBlockLayout* layout;
  const KeyDecodeTables* decode;
  const uint8_t* blocks;
  size_t num_blocks;
  int num_heads;
  const float* tables;
  size_t scores_stride;  // floats between heads in `scores`
  float* scores;
};
void ScanKeyBlocks(const KeyScanArgs& args);           // SIMD (dispatched)
void ScanKeyBlocksReference(const KeyScanArgs& args);  // scalar reference

// acc[head][dims of g0, dims of g1] += sum_t weights[head][t] * scale_g(t) * centroid_g(idx)
// over the rotated domain of each group. centroids: [group][16].
struct ValueAccumulateArgs {
  const ValueCodeLayout* layout;
  const uint8_t* codes;
  size_t num_tokens;
  int num_heads;
  const float* weights;  // [head][weights_stride]
  size_t weights_stride;
  const float* centroids;
  float* acc;            // [head][acc_stride]
  size_t acc_stride;
};
void AccumulateValues(const ValueAccumulateArgs& args);
void AccumulateValuesReference(const ValueAccumulateArgs& args);

// In place: x[i] = exp(x[i] - max); returns the sum. n >= 1.
float SoftmaxExp(float* x, size_t n);

// Exact float32 attention of one KV head for `num_heads` query heads:
// scores[h][t] = <q_h, k_t> * scale (rows of keys/values `row_stride` floats
// apart), then out[h] = softmax . V. scratch holds num_heads * num_tokens floats.
void ExactHeadAttention(const float* queries, size_t query_stride, int num_heads, int dim,
                        const float* keys, const float* values, size_t row_stride,
                        size_t num_tokens, float scale, float* scratch, float* out,
                        size_t out_stride);

// Dot products of one row with up to 4 vectors (window tokens).
void DotRows(const float* row, const float* vectors, size_t vector_stride, int count, int dim,
             float* out);
// acc[h] += weight[h] * row for h < count.
void AxpyRows(const float* row, const float* weights, int count, int dim, float* acc,
              size_t acc_stride);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_KV_KV_LAYOUT_H_
