#include "src/codec/encode_steps.h"

#include <cmath>

#include "src/util/fixed_order_sum.h"

namespace turboquant::internal {

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
  rotation.Apply(unit, rotated);
  return norm;
}

void LookupCentroids(const Codebook& codebook, const uint8_t* indices, size_t n, float* out) {
  const float* centroids = codebook.centroids().data();
  for (size_t i = 0; i < n; ++i) out[i] = centroids[indices[i]];
}

}  // namespace turboquant::internal
