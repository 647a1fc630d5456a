#ifndef TURBOQUANT_SRC_CODEC_DENSE_ROTATION_H_
#define TURBOQUANT_SRC_CODEC_DENSE_ROTATION_H_

#include <vector>

#include "src/codec/rotation.h"

namespace turboquant::internal {

// The paper's rotation: Q of the QR decomposition of a seeded Gaussian matrix,
// a Haar-random orthogonal matrix. O(d^2) per vector: a reference for tests.
class DenseRotation final : public Rotation {
 public:
  DenseRotation(int dim, uint64_t seed);

  void Apply(const float* in, float* out) const override;
  void ApplyTranspose(const float* in, float* out) const override;

 private:
  std::vector<float> matrix_;  // row-major, orthonormal rows
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_DENSE_ROTATION_H_
