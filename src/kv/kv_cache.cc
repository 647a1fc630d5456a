// KvCache: encoding of keys/values into the layouts of kv_layout.h and the
// attention driver (tables per query head, SIMD scans, softmax, one inverse
// rotation per query head and value group).
//
// Per-token scalars, and why they can be this small (measured in
// tests/kv_cache_test.cc):
//  * Keys store a bf16 norm N, an 8-bit angle theta = atan2(||x_1||, ||x_0||)
//    between the two groups, and the unit residual norm gamma of each group
//    (8 bits with one group, 4 + 4 with two). The group norms n_g are
//    quantized first (N cos theta, N sin theta) and the group is then encoded
//    as x_g / n_g, so whatever the norm's rounding error, it lands in the
//    residual that the QJL stage corrects: the estimate stays unbiased.
//    gamma is rounded stochastically (a seeded hash of seed, token and head
//    decides up or down with the right probability), so E[gamma_hat] = gamma
//    and the QJL term stays unbiased too; its rounding noise is a few percent
//    of a term that is itself a noisy correction.
//  * Values store one bf16 scale per group: s = ||x_g|| / <y_hat, y> (length
//    renormalization), so the reconstruction's projection on the true vector
//    is exact and what remains is noise orthogonal to it, which averages out
//    over the many tokens an attention output sums. bf16's 2^-9 relative
//    error is far below the 3-4 bit quantization error.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "absl/strings/str_format.h"
#include "src/codec/bitpack.h"
#include "src/codec/codebook.h"
#include "src/codec/rotation.h"
#include "src/kv/kv_layout.h"
#include "src/util/fixed_order_sum.h"
#include "src/util/random.h"
#include "turboquant/codec.h"
#include "turboquant/kv_cache.h"

namespace turboquant {

using internal::kKvBlockTokens;
using internal::kKvMaxGroups;
using internal::kKvMaxHeadsPerPass;
using internal::kKvPadBytes;

namespace {

constexpr double kHalfPi = 1.57079632679489661923;

struct GroupPlan {
  int num_groups = 1;
  int dims[kKvMaxGroups] = {0, 0};
  int bits[kKvMaxGroups] = {0, 0};
};

// bits = n: one group of all channels at n bits. bits = n + 0.5: head_dim / 4
// outlier channels at n + 1 bits and the rest at n bits.
GroupPlan PlanGroups(int head_dim, double bits) {
  GroupPlan plan;
  const int twice = static_cast<int>(std::lround(bits * 2));
  if (twice % 2 == 0) {
    plan.dims[0] = head_dim;
    plan.bits[0] = twice / 2;
  } else {
    plan.num_groups = 2;
    plan.dims[0] = head_dim / 4;
    plan.bits[0] = twice / 2 + 1;
    plan.dims[1] = head_dim - head_dim / 4;
    plan.bits[1] = twice / 2;
  }
  return plan;
}

Status CheckBits(const char* name, double bits) {
  const double twice = bits * 2;
  if (!std::isfinite(bits) || twice != std::floor(twice) || bits < 2 || bits > 4) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s = %g is not supported: use 2, 2.5, 3, 3.5 or 4", name, bits));
  }
  return absl::OkStatus();
}

uint64_t Mix(uint64_t a, uint64_t b, uint64_t c) {
  return internal::DeriveSeed(a ^ (b * 0x9E3779B97F4A7C15ULL) ^ (c * 0xC2B2AE3D27D4EB4FULL), 7);
}

// Writes `value` (< 2^width) as field t of a 16-field unit.
void SetUnitField(uint8_t* unit, int width, int t, uint32_t value) {
  uint64_t word = 0;
  std::memcpy(&word, unit, 2 * width);
  word |= static_cast<uint64_t>(value) << (t * width);
  std::memcpy(unit, &word, 2 * width);
}

struct HeadState {
  std::vector<int> key_channels;    // group 0 channels, then group 1
  std::vector<int> value_channels;
  std::vector<float> key_mean;      // per channel, subtracted before encoding
  std::vector<float> value_mean;
  std::vector<uint8_t> key_blocks;  // + kKvPadBytes
  std::vector<uint8_t> value_codes; // + kKvPadBytes
};

}  // namespace

struct KvCache::Impl {
  KvCacheConfig config;
  int dim = 0;
  int kv_heads = 0;
  int query_heads = 0;
  int heads_per_kv = 0;
  float scale = 0;
  GroupPlan key_plan, value_plan;
  std::unique_ptr<ProdCodec> key_codecs[kKvMaxGroups];
  std::unique_ptr<MseCodec> value_codecs[kKvMaxGroups];
  internal::KeyBlockLayout key_layout;
  internal::ValueCodeLayout value_layout;
  internal::KeyDecodeTables decode;
  float value_centroids[kKvMaxGroups][16] = {};
  int gamma_max_code = 0;

  bool calibrated = false;
  std::vector<HeadState> heads;
  int64_t compressed = 0;
  // Uncompressed newest tokens, [token][kv_head][dim], from window_start on.
  std::vector<float> window_keys, window_values;
  size_t window_start = 0;

  size_t row_floats() const { return static_cast<size_t>(kv_heads) * dim; }
  int64_t window_tokens() const {
    return static_cast<int64_t>(window_keys.size() / row_floats()) - static_cast<int64_t>(window_start);
  }
  const float* window_key(int64_t t, int head) const {
    return window_keys.data() + (window_start + t) * row_floats() + head * dim;
  }
  const float* window_value(int64_t t, int head) const {
    return window_values.data() + (window_start + t) * row_floats() + head * dim;
  }

  Status Init(const KvCacheConfig& c);
  void Calibrate();
  void EncodeKey(const float* key, int head, int64_t index);
  void EncodeValue(const float* value, int head, int64_t index);
  void CompressOldest(int64_t count);
  // Unscaled <q, k> estimates of every cached token for query heads
  // [first_head, first_head + count) of kv head `kv`, into scores[h][..] with
  // stride `stride` (>= padded compressed count + window).
  void Scores(const float* queries, int kv, int first_head, int count, bool reference,
              float* scores, size_t stride) const;
  void AttendHeads(const float* queries, int kv, int first_head, int count, bool reference,
                   float* out) const;
};

Status KvCacheConfig::Validate() const {
  if (head_dim < 64 || head_dim > 512 || head_dim % 64 != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("head_dim %d is not supported: must be a multiple of 64 in 64..512", head_dim));
  }
  if (num_kv_heads < 1 || num_query_heads < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "num_kv_heads (%d) and num_query_heads (%d) must be at least 1", num_kv_heads, num_query_heads));
  }
  if (num_kv_heads > kMaxHeads || num_query_heads > kMaxHeads) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "num_kv_heads (%d) and num_query_heads (%d) must be at most %d", num_kv_heads,
        num_query_heads, kMaxHeads));
  }
  if (num_query_heads % num_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "num_query_heads %d is not a multiple of num_kv_heads %d (grouped-query attention)",
        num_query_heads, num_kv_heads));
  }
  if (Status s = CheckBits("key_bits", key_bits); !s.ok()) return s;
  if (Status s = CheckBits("value_bits", value_bits); !s.ok()) return s;
  if (residual_window < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("residual_window %d must be >= 0", residual_window));
  }
  if (!std::isfinite(softmax_scale) || softmax_scale < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("softmax_scale %g must be finite and >= 0 (0 = 1/sqrt(head_dim))", softmax_scale));
  }
  return absl::OkStatus();
}

size_t KvCacheConfig::fp16_bytes_per_token() const {
  return 2u * static_cast<size_t>(num_kv_heads) * head_dim * 2u;
}

Status KvCache::Impl::Init(const KvCacheConfig& c) {
  config = c;
  dim = c.head_dim;
  kv_heads = c.num_kv_heads;
  query_heads = c.num_query_heads;
  heads_per_kv = query_heads / kv_heads;
  scale = static_cast<float>(c.softmax_scale > 0 ? c.softmax_scale : 1.0 / std::sqrt(double(dim)));
  key_plan = PlanGroups(dim, c.key_bits);
  value_plan = PlanGroups(dim, c.value_bits);

  // Key codecs and block layout.
  key_layout.num_groups = key_plan.num_groups;
  size_t offset = 0;
  int units = 0;
  for (int g = 0; g < key_plan.num_groups; ++g) {
    auto codec = ProdCodec::Create(key_plan.dims[g], key_plan.bits[g], internal::DeriveSeed(c.seed, 10 + g));
    if (!codec.ok()) return codec.status();
    key_codecs[g] = std::move(*codec);
    internal::KeyGroupLayout& group = key_layout.groups[g];
    group.dim = key_plan.dims[g];
    group.mse_bits = key_plan.bits[g] - 1;
    group.mse_dims_per_unit = group.mse_bits == 1 ? 4 : group.mse_bits == 2 ? 2 : 1;
    group.mse_width = group.mse_bits * group.mse_dims_per_unit;
    group.mse_units = group.dim / group.mse_dims_per_unit;
    group.sign_units = group.dim / 4;
    group.mse_offset = offset;
    offset += static_cast<size_t>(group.mse_units) * 2 * group.mse_width;
    group.sign_offset = offset;
    offset += static_cast<size_t>(group.sign_units) * 8;
    units += group.units();
    // gamma = code * step: 8-bit codes span [0, 2 E[gamma]) with one group,
    // 4-bit codes [0, 2.5 E[gamma]) with two (the tail beyond is vanishingly rare).
    const double expected_gamma = std::sqrt(key_codecs[g]->codebook().expected_unit_mse());
    const int max_code = key_plan.num_groups == 1 ? 255 : 15;
    decode.gamma_step[g] = static_cast<float>((key_plan.num_groups == 1 ? 2.0 : 2.5) * expected_gamma / max_code);
    decode.qjl_scale[g] = key_codecs[g]->qjl_scale();
    gamma_max_code = max_code;
  }
  key_layout.total_units = units;
  key_layout.norm_offset = offset;
  offset += 2 * kKvBlockTokens;
  if (key_plan.num_groups == 2) {
    key_layout.angle_offset = offset;
    offset += kKvBlockTokens;
  }
  key_layout.gamma_offset = offset;
  offset += kKvBlockTokens;
  key_layout.block_bytes = offset;
  for (int k = 0; k < 256; ++k) {
    const double angle = kHalfPi * k / 255.0;
    decode.cos_angle[k] = k == 255 ? 0.0f : static_cast<float>(std::cos(angle));
    decode.sin_angle[k] = k == 0 ? 0.0f : static_cast<float>(std::sin(angle));
  }

  // Value codecs and code layout.
  value_layout.num_groups = value_plan.num_groups;
  offset = 0;
  for (int g = 0; g < value_plan.num_groups; ++g) {
    auto codec = MseCodec::Create(value_plan.dims[g], value_plan.bits[g], internal::DeriveSeed(c.seed, 20 + g));
    if (!codec.ok()) return codec.status();
    value_codecs[g] = std::move(*codec);
    value_layout.groups[g] = {value_plan.dims[g], value_plan.bits[g], offset};
    offset += internal::PackedSize(value_plan.dims[g], value_plan.bits[g]);
    const auto& centroids = value_codecs[g]->codebook().centroids();
    std::copy(centroids.begin(), centroids.end(), value_centroids[g]);
  }
  value_layout.scale_offset = offset;
  value_layout.code_bytes = offset + 2 * value_plan.num_groups;

  heads.resize(kv_heads);
  for (HeadState& head : heads) {
    head.key_blocks.assign(kKvPadBytes, 0);
    head.value_codes.assign(kKvPadBytes, 0);
  }
  return absl::OkStatus();
}

void KvCache::Impl::Calibrate() {
  const int64_t n = window_tokens();
  std::vector<double> sum(dim), energy(dim);
  std::vector<int> order(dim);
  auto choose = [&](const GroupPlan& plan, auto row, std::vector<float>* mean,
                    std::vector<int>* channels) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t t = 0; t < n; ++t) {
      const float* x = row(t);
      for (int i = 0; i < dim; ++i) sum[i] += x[i];
    }
    mean->resize(dim);
    for (int i = 0; i < dim; ++i) (*mean)[i] = static_cast<float>(sum[i] / n);
    std::iota(order.begin(), order.end(), 0);
    if (plan.num_groups == 2) {
      std::fill(energy.begin(), energy.end(), 0.0);
      for (int64_t t = 0; t < n; ++t) {
        const float* x = row(t);
        for (int i = 0; i < dim; ++i) energy[i] += double(x[i] - (*mean)[i]) * (x[i] - (*mean)[i]);
      }
      // Largest centered energy first; ties by channel so the choice is deterministic.
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return energy[a] > energy[b]; });
      std::sort(order.begin(), order.begin() + plan.dims[0]);
      std::sort(order.begin() + plan.dims[0], order.end());
    }
    *channels = order;
  };
  for (int h = 0; h < kv_heads; ++h) {
    choose(key_plan, [&](int64_t t) { return window_key(t, h); }, &heads[h].key_mean,
           &heads[h].key_channels);
    choose(value_plan, [&](int64_t t) { return window_value(t, h); }, &heads[h].value_mean,
           &heads[h].value_channels);
  }
  calibrated = true;
}

void KvCache::Impl::EncodeKey(const float* key, int head, int64_t index) {
  HeadState& state = heads[head];
  const size_t block_index = static_cast<size_t>(index / kKvBlockTokens);
  const int t = static_cast<int>(index % kKvBlockTokens);
  if (t == 0) {
    state.key_blocks.resize(kKvPadBytes + (block_index + 1) * key_layout.block_bytes, 0);
  }
  uint8_t* block = state.key_blocks.data() + block_index * key_layout.block_bytes;

  float x[512], y[512], r[512], p[512];
  uint8_t idx[512];
  for (int i = 0; i < dim; ++i) x[i] = key[state.key_channels[i]] - state.key_mean[state.key_channels[i]];
  double group_sq[kKvMaxGroups] = {0, 0};
  for (int g = 0, begin = 0; g < key_plan.num_groups; begin += key_plan.dims[g], ++g) {
    for (int i = begin; i < begin + key_plan.dims[g]; ++i) group_sq[g] += double(x[i]) * x[i];
  }
  const uint16_t norm16 = internal::FloatToBf16(static_cast<float>(std::sqrt(group_sq[0] + group_sq[1])));
  std::memcpy(block + key_layout.norm_offset + 2 * t, &norm16, 2);
  const float norm = internal::Bf16ToFloat(norm16);
  float group_norm[kKvMaxGroups] = {norm, 0};
  if (key_plan.num_groups == 2) {
    const double angle = std::atan2(std::sqrt(group_sq[1]), std::sqrt(group_sq[0]));
    const int k = std::clamp(static_cast<int>(std::lround(angle / kHalfPi * 255)), 0, 255);
    block[key_layout.angle_offset + t] = static_cast<uint8_t>(k);
    group_norm[0] = norm * decode.cos_angle[k];
    group_norm[1] = norm * decode.sin_angle[k];
  }
  uint8_t gamma_byte = 0;
  for (int g = 0, begin = 0; g < key_plan.num_groups; begin += key_plan.dims[g], ++g) {
    const internal::KeyGroupLayout& group = key_layout.groups[g];
    const ProdCodec& codec = *key_codecs[g];
    const int n = group.dim;
    if (!(group_norm[g] > 0)) continue;  // all fields stay 0; its coefficients are 0
    const float inverse = 1.0f / group_norm[g];
    for (int i = 0; i < n; ++i) r[i] = x[begin + i] * inverse;
    codec.rotation().Apply(r, y);
    codec.codebook().Quantize(y, n, idx);
    const float* centroids = codec.codebook().centroids().data();
    for (int i = 0; i < n; ++i) r[i] = y[i] - centroids[idx[i]];
    const float gamma = std::sqrt(internal::FixedOrderSquaredNorm(r, n));
    codec.qjl_rotation().Apply(r, p);
    for (int u = 0; u < group.mse_units; ++u) {
      uint32_t field = 0;
      for (int j = 0; j < group.mse_dims_per_unit; ++j) {
        field |= uint32_t{idx[u * group.mse_dims_per_unit + j]} << (j * group.mse_bits);
      }
      SetUnitField(block + group.mse_offset + u * 2 * group.mse_width, group.mse_width, t, field);
    }
    for (int u = 0; u < group.sign_units; ++u) {
      uint32_t field = 0;
      for (int j = 0; j < 4; ++j) field |= uint32_t{p[4 * u + j] >= 0.0f} << j;
      SetUnitField(block + group.sign_offset + u * 8, 4, t, field);
    }
    // Stochastic rounding of gamma / step: unbiased, deterministic in the seed.
    const uint64_t hash = Mix(config.seed, (static_cast<uint64_t>(index) << 16) + head, g);
    const double uniform = static_cast<double>(hash >> 11) * 0x1.0p-53;
    const double scaled = gamma / decode.gamma_step[g];
    const int code = std::min(gamma_max_code, static_cast<int>(std::floor(scaled + uniform)));
    gamma_byte |= static_cast<uint8_t>(code << (4 * g));
  }
  block[key_layout.gamma_offset + t] = gamma_byte;
}

void KvCache::Impl::EncodeValue(const float* value, int head, int64_t index) {
  HeadState& state = heads[head];
  const size_t code_bytes = value_layout.code_bytes;
  state.value_codes.resize(kKvPadBytes + (index + 1) * code_bytes, 0);
  uint8_t* code = state.value_codes.data() + index * code_bytes;
  float x[512], y[512], u[512];
  uint8_t idx[512];
  for (int i = 0; i < dim; ++i) {
    x[i] = value[state.value_channels[i]] - state.value_mean[state.value_channels[i]];
  }
  for (int g = 0, begin = 0; g < value_plan.num_groups; begin += value_plan.dims[g], ++g) {
    const MseCodec& codec = *value_codecs[g];
    const int n = value_plan.dims[g];
    const float norm = std::sqrt(internal::FixedOrderSquaredNorm(x + begin, n));
    float scale = 0.0f;
    if (norm > 0) {
      for (int i = 0; i < n; ++i) u[i] = x[begin + i] / norm;
      codec.rotation().Apply(u, y);
      codec.codebook().Quantize(y, n, idx);
      const float* centroids = codec.codebook().centroids().data();
      float alignment = 0.0f;
      for (int i = 0; i < n; ++i) alignment += centroids[idx[i]] * y[i];
      scale = alignment > 0 ? norm / alignment : norm;
    } else {
      std::memset(idx, 0, n);
    }
    internal::PackBits(idx, n, value_plan.bits[g], code + value_layout.groups[g].index_offset);
    const uint16_t s16 = internal::FloatToBf16(scale);
    std::memcpy(code + value_layout.scale_offset + 2 * g, &s16, 2);
  }
}

void KvCache::Impl::CompressOldest(int64_t count) {
  if (!calibrated) Calibrate();
  for (int64_t t = 0; t < count; ++t) {
    for (int h = 0; h < kv_heads; ++h) {
      EncodeKey(window_key(t, h), h, compressed);
      EncodeValue(window_value(t, h), h, compressed);
    }
    ++compressed;
  }
  window_start += static_cast<size_t>(count);
  // Drop the compressed prefix once it is as large as what remains.
  if (window_start > 0 && window_start >= static_cast<size_t>(window_tokens())) {
    const size_t drop = window_start * row_floats();
    window_keys.erase(window_keys.begin(), window_keys.begin() + drop);
    window_values.erase(window_values.begin(), window_values.begin() + drop);
    window_start = 0;
  }
}

void KvCache::Impl::Scores(const float* queries, int kv, int first_head, int count, bool reference,
                           float* scores, size_t stride) const {
  const HeadState& state = heads[kv];
  const size_t units = static_cast<size_t>(key_layout.total_units);
  const size_t num_blocks = static_cast<size_t>((compressed + kKvBlockTokens - 1) / kKvBlockTokens);
  if (num_blocks > 0) {
    std::vector<float> tables(static_cast<size_t>(count) * units * 16);
    float qg[512], rotated[512], projected[512];
    for (int h = 0; h < count; ++h) {
      const float* q = queries + static_cast<size_t>(first_head + h) * dim;
      float* table = tables.data() + h * units * 16;
      for (int g = 0, begin = 0; g < key_plan.num_groups; begin += key_plan.dims[g], ++g) {
        const internal::KeyGroupLayout& group = key_layout.groups[g];
        const ProdCodec& codec = *key_codecs[g];
        for (int i = 0; i < group.dim; ++i) qg[i] = q[state.key_channels[begin + i]];
        codec.rotation().Apply(qg, rotated);
        codec.qjl_rotation().Apply(rotated, projected);
        const float* centroids = codec.codebook().centroids().data();
        const uint32_t mask = (1u << group.mse_bits) - 1;
        for (int u = 0; u < group.mse_units; ++u, table += 16) {
          for (uint32_t f = 0; f < 16; ++f) {
            float sum = 0.0f;
            for (int j = 0; j < group.mse_dims_per_unit; ++j) {
              sum += rotated[u * group.mse_dims_per_unit + j] * centroids[(f >> (j * group.mse_bits)) & mask];
            }
            table[f] = sum;
          }
        }
        for (int u = 0; u < group.sign_units; ++u, table += 16) {
          for (uint32_t f = 0; f < 16; ++f) {
            float sum = 0.0f;
            for (int j = 0; j < 4; ++j) sum += (f >> j & 1) ? projected[4 * u + j] : -projected[4 * u + j];
            table[f] = sum;
          }
        }
      }
    }
    internal::KeyScanArgs args{&key_layout, &decode, state.key_blocks.data(), num_blocks, count,
                               tables.data(), stride, scores};
    if (reference) {
      internal::ScanKeyBlocksReference(args);
    } else {
      internal::ScanKeyBlocks(args);
    }
    // The keys were centered: add back <q, mean> (a constant per query head,
    // which softmax ignores, but KeyScores reports true estimates).
    float offsets[kKvMaxHeadsPerPass];
    internal::DotRows(state.key_mean.data(), queries + static_cast<size_t>(first_head) * dim, dim,
                      count, dim, offsets);
    for (int h = 0; h < count; ++h) {
      float* s = scores + h * stride;
      for (int64_t t = 0; t < compressed; ++t) s[t] += offsets[h];
    }
  }
  const int64_t window = window_tokens();
  float dots[kKvMaxHeadsPerPass];
  for (int64_t t = 0; t < window; ++t) {
    internal::DotRows(window_key(t, kv), queries + static_cast<size_t>(first_head) * dim, dim, count, dim, dots);
    for (int h = 0; h < count; ++h) scores[h * stride + compressed + t] = dots[h];
  }
}

void KvCache::Impl::AttendHeads(const float* queries, int kv, int first_head, int count,
                                bool reference, float* out) const {
  const size_t padded = static_cast<size_t>((compressed + kKvBlockTokens - 1) / kKvBlockTokens) * kKvBlockTokens;
  const int64_t window = window_tokens();
  const size_t stride = padded + static_cast<size_t>(window);
  const size_t total = static_cast<size_t>(compressed + window);
  std::vector<float> weights(stride * count);
  Scores(queries, kv, first_head, count, reference, weights.data(), stride);
  float inverse_sum[kKvMaxHeadsPerPass];
  for (int h = 0; h < count; ++h) {
    float* w = weights.data() + h * stride;
    for (size_t t = 0; t < total; ++t) w[t] *= scale;
    inverse_sum[h] = 1.0f / internal::SoftmaxExp(w, total);
  }
  std::vector<float> acc(static_cast<size_t>(count) * dim, 0.0f);
  if (compressed > 0) {
    internal::ValueAccumulateArgs args{&value_layout, heads[kv].value_codes.data(),
                                       static_cast<size_t>(compressed), count, weights.data(), stride,
                                       &value_centroids[0][0], acc.data(), static_cast<size_t>(dim)};
    if (reference) {
      internal::AccumulateValuesReference(args);
    } else {
      internal::AccumulateValues(args);
    }
  }
  float rotated_back[512];
  const HeadState& state = heads[kv];
  for (int h = 0; h < count; ++h) {
    float* o = out + static_cast<size_t>(first_head + h) * dim;
    std::fill(o, o + dim, 0.0f);
    if (compressed > 0) {
      for (int g = 0, begin = 0; g < value_plan.num_groups; begin += value_plan.dims[g], ++g) {
        value_codecs[g]->rotation().ApplyTranspose(acc.data() + h * dim + begin, rotated_back);
        for (int i = 0; i < value_plan.dims[g]; ++i) o[state.value_channels[begin + i]] = rotated_back[i];
      }
      // The values were centered: add back (sum of compressed weights) * mean.
      const float* w = weights.data() + h * stride;
      double weight_sum = 0;
      for (int64_t t = 0; t < compressed; ++t) weight_sum += w[t];
      for (int i = 0; i < dim; ++i) o[i] += static_cast<float>(weight_sum) * state.value_mean[i];
    }
  }
  float w[kKvMaxHeadsPerPass];
  for (int64_t t = 0; t < window; ++t) {
    for (int h = 0; h < count; ++h) w[h] = weights[h * stride + compressed + t];
    internal::AxpyRows(window_value(t, kv), w, count, dim, out + static_cast<size_t>(first_head) * dim, dim);
  }
  for (int h = 0; h < count; ++h) {
    float* o = out + static_cast<size_t>(first_head + h) * dim;
    for (int i = 0; i < dim; ++i) o[i] *= inverse_sum[h];
  }
}

// ---------------------------------------------------------------------------

namespace {

Status CheckRows(const char* what, absl::Span<const float> data, size_t row, size_t* rows) {
  if (data.size() % row != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d floats is not a whole number of rows of num_heads * head_dim = %d", what, data.size(), row));
  }
  *rows = data.size() / row;
  return absl::OkStatus();
}

Status CheckFiniteRows(const char* what, absl::Span<const float> data, int heads, int dim) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (!std::isfinite(data[i])) {
      const size_t token = i / (static_cast<size_t>(heads) * dim);
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: token %d, head %d, channel %d is not finite (%f)", what, token,
          (i / dim) % heads, i % dim, data[i]));
    }
  }
  // Norms must stay finite (and within bf16 range) once squared and summed.
  for (size_t r = 0; r < data.size() / dim; ++r) {
    double sq = 0;
    for (int i = 0; i < dim; ++i) sq += double(data[r * dim + i]) * data[r * dim + i];
    if (!(std::sqrt(sq) < 1e37)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: token %d, head %d has norm %g, too large to store", what, r / heads, r % heads, std::sqrt(sq)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

KvCache::KvCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvCache::~KvCache() = default;

StatusOr<std::unique_ptr<KvCache>> KvCache::Create(const KvCacheConfig& config) {
  if (Status s = config.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  if (Status s = impl->Init(config); !s.ok()) return s;
  return std::unique_ptr<KvCache>(new KvCache(std::move(impl)));
}

const KvCacheConfig& KvCache::config() const { return impl_->config; }
int64_t KvCache::num_tokens() const { return impl_->compressed + impl_->window_tokens(); }
int64_t KvCache::num_compressed_tokens() const { return impl_->compressed; }

Status KvCache::Append(absl::Span<const float> keys, absl::Span<const float> values) {
  Impl& m = *impl_;
  size_t key_rows = 0, value_rows = 0;
  if (Status s = CheckRows("Append keys", keys, m.row_floats(), &key_rows); !s.ok()) return s;
  if (Status s = CheckRows("Append values", values, m.row_floats(), &value_rows); !s.ok()) return s;
  if (key_rows != value_rows) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Append: %d key tokens but %d value tokens", key_rows, value_rows));
  }
  if (Status s = CheckFiniteRows("Append keys", keys, m.kv_heads, m.dim); !s.ok()) return s;
  if (Status s = CheckFiniteRows("Append values", values, m.kv_heads, m.dim); !s.ok()) return s;
  m.window_keys.insert(m.window_keys.end(), keys.begin(), keys.end());
  m.window_values.insert(m.window_values.end(), values.begin(), values.end());
  const int64_t excess = m.window_tokens() - m.config.residual_window;
  if (excess > 0) m.CompressOldest(excess);
  return absl::OkStatus();
}

namespace {

Status CheckQueries(const KvCache::Impl& m, absl::Span<const float> queries, size_t out_size,
                    size_t out_per_query, size_t* query_tokens, const char* what) {
  const size_t row = static_cast<size_t>(m.query_heads) * m.dim;
  if (queries.size() % row != 0 || queries.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: queries hold %d floats, not a positive whole number of num_query_heads * head_dim = %d",
        what, queries.size(), row));
  }
  *query_tokens = queries.size() / row;
  if (out_size != *query_tokens * out_per_query) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: output holds %d floats, %d are needed", what, out_size, *query_tokens * out_per_query));
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!std::isfinite(queries[i])) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: query token %d, head %d, channel %d is not finite (%f)", what, i / row,
          (i / m.dim) % m.query_heads, i % m.dim, queries[i]));
    }
  }
  return absl::OkStatus();
}

}  // namespace

Status KvCache::Attention(absl::Span<const float> queries, absl::Span<float> outputs) const {
  const Impl& m = *impl_;
  size_t query_tokens = 0;
  if (Status s = CheckQueries(m, queries, outputs.size(), static_cast<size_t>(m.query_heads) * m.dim,
                              &query_tokens, "Attention");
      !s.ok()) {
    return s;
  }
  if (num_tokens() == 0) {
    return absl::FailedPreconditionError("Attention: the cache holds no tokens");
  }
  const size_t row = static_cast<size_t>(m.query_heads) * m.dim;
  for (size_t qt = 0; qt < query_tokens; ++qt) {
    for (int kv = 0; kv < m.kv_heads; ++kv) {
      for (int h = 0; h < m.heads_per_kv; h += kKvMaxHeadsPerPass) {
        const int count = std::min(kKvMaxHeadsPerPass, m.heads_per_kv - h);
        m.AttendHeads(queries.data() + qt * row, kv, kv * m.heads_per_kv + h, count,
                      use_reference_kernels_, outputs.data() + qt * row);
      }
    }
  }
  return absl::OkStatus();
}

Status KvCache::KeyScores(absl::Span<const float> queries, absl::Span<float> scores) const {
  const Impl& m = *impl_;
  const size_t n = static_cast<size_t>(num_tokens());
  size_t query_tokens = 0;
  if (Status s = CheckQueries(m, queries, scores.size(), static_cast<size_t>(m.query_heads) * n,
                              &query_tokens, "KeyScores");
      !s.ok()) {
    return s;
  }
  const size_t padded = static_cast<size_t>((m.compressed + kKvBlockTokens - 1) / kKvBlockTokens) * kKvBlockTokens;
  const size_t stride = padded + static_cast<size_t>(m.window_tokens());
  std::vector<float> buffer(stride * kKvMaxHeadsPerPass);
  const size_t row = static_cast<size_t>(m.query_heads) * m.dim;
  for (size_t qt = 0; qt < query_tokens; ++qt) {
    for (int kv = 0; kv < m.kv_heads; ++kv) {
      for (int h = 0; h < m.heads_per_kv; h += kKvMaxHeadsPerPass) {
        const int count = std::min(kKvMaxHeadsPerPass, m.heads_per_kv - h);
        const int first = kv * m.heads_per_kv + h;
        m.Scores(queries.data() + qt * row, kv, first, count, use_reference_kernels_, buffer.data(), stride);
        for (int i = 0; i < count; ++i) {
          std::copy(buffer.begin() + i * stride, buffer.begin() + i * stride + n,
                    scores.begin() + (qt * m.query_heads + first + i) * n);
        }
      }
    }
  }
  return absl::OkStatus();
}

Status KvCache::Decompress(std::vector<float>* keys, std::vector<float>* values) const {
  const Impl& m = *impl_;
  const size_t row = m.row_floats();
  keys->assign(static_cast<size_t>(num_tokens()) * row, 0.0f);
  values->assign(static_cast<size_t>(num_tokens()) * row, 0.0f);
  float y[512], signs[512], back[512], tmp[512];
  for (int kv = 0; kv < m.kv_heads; ++kv) {
    const HeadState& state = m.heads[kv];
    for (int64_t index = 0; index < m.compressed; ++index) {
      const uint8_t* block = state.key_blocks.data() + (index / kKvBlockTokens) * m.key_layout.block_bytes;
      const int t = static_cast<int>(index % kKvBlockTokens);
      float mse_coef[kKvMaxGroups][kKvBlockTokens], qjl_coef[kKvMaxGroups][kKvBlockTokens];
      internal::DecodeKeyCoefficients(m.key_layout, m.decode, block, mse_coef, qjl_coef);
      float* key_out = keys->data() + index * row + kv * m.dim;
      for (int g = 0, begin = 0; g < m.key_plan.num_groups; begin += m.key_plan.dims[g], ++g) {
        const internal::KeyGroupLayout& group = m.key_layout.groups[g];
        const ProdCodec& codec = *m.key_codecs[g];
        const float* centroids = codec.codebook().centroids().data();
        for (int u = 0; u < group.mse_units; ++u) {
          const uint32_t field = internal::UnitField(block + group.mse_offset + u * 2 * group.mse_width, group.mse_width, t);
          for (int j = 0; j < group.mse_dims_per_unit; ++j) {
            y[u * group.mse_dims_per_unit + j] = centroids[(field >> (j * group.mse_bits)) & ((1u << group.mse_bits) - 1)];
          }
        }
        for (int u = 0; u < group.sign_units; ++u) {
          const uint32_t field = internal::UnitField(block + group.sign_offset + u * 8, 4, t);
          for (int j = 0; j < 4; ++j) signs[4 * u + j] = (field >> j & 1) ? 1.0f : -1.0f;
        }
        codec.qjl_rotation().ApplyTranspose(signs, tmp);
        for (int i = 0; i < group.dim; ++i) y[i] = mse_coef[g][t] * y[i] + qjl_coef[g][t] * tmp[i];
        codec.rotation().ApplyTranspose(y, back);
        for (int i = 0; i < group.dim; ++i) {
          const int c = state.key_channels[begin + i];
          key_out[c] = back[i] + state.key_mean[c];
        }
      }
      const uint8_t* code = state.value_codes.data() + index * m.value_layout.code_bytes;
      float* value_out = values->data() + index * row + kv * m.dim;
      uint8_t idx[512];
      for (int g = 0, begin = 0; g < m.value_plan.num_groups; begin += m.value_plan.dims[g], ++g) {
        const MseCodec& codec = *m.value_codecs[g];
        internal::UnpackBits(code + m.value_layout.groups[g].index_offset, m.value_plan.dims[g], m.value_plan.bits[g], idx);
        uint16_t s16;
        std::memcpy(&s16, code + m.value_layout.scale_offset + 2 * g, 2);
        const float scale = internal::Bf16ToFloat(s16);
        for (int i = 0; i < m.value_plan.dims[g]; ++i) y[i] = scale * codec.codebook().centroids()[idx[i]];
        codec.rotation().ApplyTranspose(y, back);
        for (int i = 0; i < m.value_plan.dims[g]; ++i) {
          const int c = state.value_channels[begin + i];
          value_out[c] = back[i] + state.value_mean[c];
        }
      }
    }
  }
  const int64_t window = m.window_tokens();
  for (int64_t t = 0; t < window; ++t) {
    std::memcpy(keys->data() + (m.compressed + t) * row, m.window_key(t, 0), row * sizeof(float));
    std::memcpy(values->data() + (m.compressed + t) * row, m.window_value(t, 0), row * sizeof(float));
  }
  return absl::OkStatus();
}

size_t KvCache::key_bytes_per_token_per_head() const {
  return impl_->key_layout.block_bytes / kKvBlockTokens;
}

size_t KvCache::value_bytes_per_token_per_head() const { return impl_->value_layout.code_bytes; }

size_t KvCache::bytes_per_token() const {
  return static_cast<size_t>(impl_->kv_heads) *
         (key_bytes_per_token_per_head() + value_bytes_per_token_per_head());
}

size_t KvCache::bytes_used() const {
  const Impl& m = *impl_;
  size_t total = 0;
  for (const HeadState& head : m.heads) {
    total += head.key_blocks.size() - kKvPadBytes + head.value_codes.size() - kKvPadBytes;
    total += (head.key_channels.size() + head.value_channels.size()) * sizeof(int);
    total += (head.key_mean.size() + head.value_mean.size()) * sizeof(float);
  }
  total += static_cast<size_t>(m.window_tokens()) * m.row_floats() * 2 * sizeof(float);
  return total;
}

Status ExactAttention(const KvCacheConfig& config, absl::Span<const float> keys,
                      absl::Span<const float> values, absl::Span<const float> queries,
                      absl::Span<float> outputs) {
  if (Status s = config.Validate(); !s.ok()) return s;
  const int dim = config.head_dim;
  const size_t kv_row = static_cast<size_t>(config.num_kv_heads) * dim;
  const size_t q_row = static_cast<size_t>(config.num_query_heads) * dim;
  size_t tokens = 0, value_tokens = 0;
  if (Status s = CheckRows("ExactAttention keys", keys, kv_row, &tokens); !s.ok()) return s;
  if (Status s = CheckRows("ExactAttention values", values, kv_row, &value_tokens); !s.ok()) return s;
  if (tokens != value_tokens || tokens == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ExactAttention: %d key tokens and %d value tokens (must be equal and > 0)", tokens, value_tokens));
  }
  if (queries.size() % q_row != 0 || queries.empty() || outputs.size() != queries.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "ExactAttention: queries (%d floats) must be whole rows of %d and outputs (%d) as many",
        queries.size(), q_row, outputs.size()));
  }
  const float scale = static_cast<float>(config.softmax_scale > 0 ? config.softmax_scale : 1.0 / std::sqrt(double(dim)));
  const int per_kv = config.num_query_heads / config.num_kv_heads;
  std::vector<float> scratch(tokens * kKvMaxHeadsPerPass);
  for (size_t qt = 0; qt < queries.size() / q_row; ++qt) {
    for (int kv = 0; kv < config.num_kv_heads; ++kv) {
      for (int h = 0; h < per_kv; h += kKvMaxHeadsPerPass) {
        const int count = std::min(kKvMaxHeadsPerPass, per_kv - h);
        const size_t first = static_cast<size_t>(kv * per_kv + h);
        internal::ExactHeadAttention(queries.data() + qt * q_row + first * dim, dim, count, dim,
                                     keys.data() + kv * dim, values.data() + kv * dim, kv_row, tokens,
                                     scale, scratch.data(), outputs.data() + qt * q_row + first * dim, dim);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace turboquant
