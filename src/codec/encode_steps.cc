#include "src/codec/encode_steps.h"

#include <cmath>

#include "src/codec/bitpack.h"
#include "src/codec/hadamard_plan.h"
#include "src/util/fixed_order_sum.h"

namespace turboquant::internal {
namespace {

// out = R * in, by the scalar definition for Hadamard rotations.
void RotateReference(const Rotation& rotation, const float* in, float* out) {
  if (const HadamardPlan* plan = rotation.hadamard_plan()) {
    HadamardForwardReference(*plan, in, out);
  } else {
    rotation.Apply(in, out);
  }
}

// rotated = R * (x / ||x||); returns ||x||. A zero vector gives rotated = 0.
float RotateDirection(const Rotation& rotation, const float* x, CodecScratch& scratch,
                      float* rotated) {
  const size_t n = static_cast<size_t>(rotation.dim());
  const float norm = std::sqrt(FixedOrderSquaredNorm(x, n));
  if (norm == 0.0f) {
    std::memset(rotated, 0, n * sizeof(float));
    return 0.0f;
  }
  const float inverse = 1.0f / norm;
  float* unit = scratch.unit.data();
  for (size_t i = 0; i < n; ++i) unit[i] = x[i] * inverse;
  RotateReference(rotation, unit, rotated);
  return norm;
}

// MseCodec: b-bit indices, then ||x|| and the renormalization scale.
void EncodeMse(const MseCodec& codec, const float* vector, uint8_t* code) {
  const int dim = codec.dim();
  CodecScratch& s = CodecScratch::ForThread(dim);
  const float norm = RotateDirection(codec.rotation(), vector, s, s.rotated.data());
  codec.codebook().QuantizeScalar(s.rotated.data(), dim, s.indices.data());
  PackBitsReference(s.indices.data(), dim, codec.bits(), code);
  LookupCentroids(codec.codebook(), s.indices.data(), dim, s.reconstructed.data());
  const float alignment = FixedOrderDot(s.reconstructed.data(), s.rotated.data(), dim);
  const float scale = alignment > 0.0f ? norm / alignment : norm;
  StoreScalars(norm, scale, code + codec.code_size());
}

// ProdCodec: (b-1)-bit indices, QJL sign bits of S * residual, ||x||, ||residual||.
void EncodeProd(const ProdCodec& codec, const float* vector, uint8_t* code) {
  const int dim = codec.dim();
  const int mse_bits = codec.bits() - 1;
  CodecScratch& s = CodecScratch::ForThread(dim);
  const float norm = RotateDirection(codec.rotation(), vector, s, s.rotated.data());
  codec.codebook().QuantizeScalar(s.rotated.data(), dim, s.indices.data());
  PackBitsReference(s.indices.data(), dim, mse_bits, code);
  LookupCentroids(codec.codebook(), s.indices.data(), dim, s.reconstructed.data());
  for (int i = 0; i < dim; ++i) s.residual[i] = s.rotated[i] - s.reconstructed[i];
  const float gamma = std::sqrt(FixedOrderSquaredNorm(s.residual.data(), dim));
  RotateReference(codec.qjl_rotation(), s.residual.data(), s.projected.data());
  for (int i = 0; i < dim; ++i) s.indices[i] = s.projected[i] >= 0.0f ? 1 : 0;
  PackBitsReference(s.indices.data(), dim, 1, code + PackedSize(dim, mse_bits));
  StoreScalars(norm, gamma, code + codec.code_size());
}

}  // namespace

CodecScratch& CodecScratch::ForThread(int dim) {
  thread_local CodecScratch scratch;
  const size_t n = static_cast<size_t>(dim);
  if (scratch.unit.size() < n) {
    for (auto* buffer : {&scratch.unit, &scratch.rotated, &scratch.reconstructed,
                         &scratch.residual, &scratch.projected}) {
      buffer->resize(n);
    }
    scratch.indices.resize(n);
  }
  return scratch;
}

void EncodeReference(const Codec& codec, const float* vector, uint8_t* code) {
  if (codec.kind() == CodecKind::kMse) {
    EncodeMse(static_cast<const MseCodec&>(codec), vector, code);
  } else {
    EncodeProd(static_cast<const ProdCodec&>(codec), vector, code);
  }
}

void LookupCentroids(const Codebook& codebook, const uint8_t* indices, size_t n, float* out) {
  const float* centroids = codebook.centroids().data();
  for (size_t i = 0; i < n; ++i) out[i] = centroids[indices[i]];
}

}  // namespace turboquant::internal
