// Scalar reference kernels of the compressed KV cache: the same sums as
// kv_kernels.cc, one token and one field at a time. Tests check that the SIMD
// kernels agree with these; targets without 8 float lanes run them.
#include <cstring>

#include "src/kv/kv_layout.h"

namespace turboquant::internal {

void DecodeKeyCoefficients(const KeyBlockLayout& layout, const KeyDecodeTables& tables,
                           const uint8_t* block, float mse_coef[kKvMaxGroups][kKvBlockTokens],
                           float qjl_coef[kKvMaxGroups][kKvBlockTokens]) {
  for (int t = 0; t < kKvBlockTokens; ++t) {
    uint16_t n16;
    std::memcpy(&n16, block + layout.norm_offset + 2 * t, 2);
    const float norm = Bf16ToFloat(n16);
    const uint8_t gamma_code = block[layout.gamma_offset + t];
    if (layout.num_groups == 1) {
      mse_coef[0][t] = norm;
      qjl_coef[0][t] = norm * (gamma_code * tables.gamma_step[0]) * tables.qjl_scale[0];
    } else {
      const uint8_t angle = block[layout.angle_offset + t];
      const float group_norm[2] = {norm * tables.cos_angle[angle], norm * tables.sin_angle[angle]};
      const int codes[2] = {gamma_code & 15, gamma_code >> 4};
      for (int g = 0; g < 2; ++g) {
        mse_coef[g][t] = group_norm[g];
        qjl_coef[g][t] = group_norm[g] * (codes[g] * tables.gamma_step[g]) * tables.qjl_scale[g];
      }
    }
  }
}

void ScanKeyBlocksReference(const KeyScanArgs& a) {
  const KeyBlockLayout& layout = *a.layout;
  const size_t units = static_cast<size_t>(layout.total_units);
  for (size_t b = 0; b < a.num_blocks; ++b) {
    const uint8_t* block = a.blocks + b * layout.block_bytes;
    float mse_coef[kKvMaxGroups][kKvBlockTokens];
    float qjl_coef[kKvMaxGroups][kKvBlockTokens];
    DecodeKeyCoefficients(layout, *a.decode, block, mse_coef, qjl_coef);
    for (int h = 0; h < a.num_heads; ++h) {
      for (int t = 0; t < kKvBlockTokens; ++t) {
        float score = 0.0f;
        size_t unit_index = 0;
        for (int g = 0; g < layout.num_groups; ++g) {
          const KeyGroupLayout& group = layout.groups[g];
          float mse = 0.0f;
          for (int u = 0; u < group.mse_units; ++u, ++unit_index) {
            const uint8_t* unit = block + group.mse_offset + u * 2 * group.mse_width;
            mse += a.tables[(h * units + unit_index) * 16 + UnitField(unit, group.mse_width, t)];
          }
          float qjl = 0.0f;
          for (int u = 0; u < group.sign_units; ++u, ++unit_index) {
            const uint8_t* unit = block + group.sign_offset + u * 8;
            qjl += a.tables[(h * units + unit_index) * 16 + UnitField(unit, 4, t)];
          }
          score += mse_coef[g][t] * mse + qjl_coef[g][t] * qjl;
        }
        a.scores[h * a.scores_stride + b * kKvBlockTokens + t] = score;
      }
    }
  }
}

void AccumulateValuesReference(const ValueAccumulateArgs& a) {
  const ValueCodeLayout& layout = *a.layout;
  for (size_t t = 0; t < a.num_tokens; ++t) {
    const uint8_t* code = a.codes + t * layout.code_bytes;
    size_t acc_offset = 0;
    for (int g = 0; g < layout.num_groups; ++g) {
      const ValueGroupLayout& group = layout.groups[g];
      uint16_t s16;
      std::memcpy(&s16, code + layout.scale_offset + 2 * g, 2);
      const float scale = Bf16ToFloat(s16);
      for (int h = 0; h < a.num_heads; ++h) {
        const float weight = a.weights[h * a.weights_stride + t] * scale;
        float* acc = a.acc + h * a.acc_stride + acc_offset;
        for (int i = 0; i < group.dim; ++i) {
          const uint8_t* unit = code + group.index_offset + (i / 16) * 2 * group.bits;
          acc[i] += weight * a.centroids[g * 16 + UnitField(unit, group.bits, i % 16)];
        }
      }
      acc_offset += static_cast<size_t>(group.dim);
    }
  }
}

void DotRows(const float* row, const float* vectors, size_t vector_stride, int count, int dim,
             float* out) {
  for (int h = 0; h < count; ++h) {
    float dot = 0.0f;
    for (int i = 0; i < dim; ++i) dot += row[i] * vectors[h * vector_stride + i];
    out[h] = dot;
  }
}

void AxpyRows(const float* row, const float* weights, int count, int dim, float* acc,
              size_t acc_stride) {
  for (int h = 0; h < count; ++h) {
    for (int i = 0; i < dim; ++i) acc[h * acc_stride + i] += weights[h] * row[i];
  }
}

}  // namespace turboquant::internal
