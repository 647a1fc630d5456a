// The random orthogonal transform applied to every unit vector before scalar
// quantization. After it, each coordinate of a unit vector follows the same
// density (see codebook.h) whatever the input distribution was.
#ifndef TURBOQUANT_SRC_CODEC_ROTATION_H_
#define TURBOQUANT_SRC_CODEC_ROTATION_H_

#include <cstdint>
#include <memory>

#include "turboquant/codec.h"

namespace turboquant::internal {

struct HadamardPlan;

class Rotation {
 public:
  static StatusOr<std::unique_ptr<Rotation>> Create(RotationKind kind, int dim, uint64_t seed);
  virtual ~Rotation() = default;

  int dim() const { return dim_; }
  // out = R * in. `in` and `out` must not overlap.
  virtual void Apply(const float* in, float* out) const = 0;
  // out = R^T * in (the inverse). `in` and `out` must not overlap.
  virtual void ApplyTranspose(const float* in, float* out) const = 0;
  // The plan of a randomized Hadamard rotation, which the fused encode
  // kernels run directly; nullptr for other rotations.
  virtual const HadamardPlan* hadamard_plan() const { return nullptr; }

 protected:
  explicit Rotation(int dim) : dim_(dim) {}

 private:
  int dim_;
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_ROTATION_H_
