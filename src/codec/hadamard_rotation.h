#ifndef TURBOQUANT_SRC_CODEC_HADAMARD_ROTATION_H_
#define TURBOQUANT_SRC_CODEC_HADAMARD_ROTATION_H_

#include <memory>

#include "src/codec/hadamard_plan.h"
#include "src/codec/rotation.h"

namespace turboquant::internal {

// Seeded randomized Hadamard transform; see hadamard_rotation.cc.
class HadamardRotation final : public Rotation {
 public:
  HadamardRotation(int dim, uint64_t seed);
  ~HadamardRotation() override;

  void Apply(const float* in, float* out) const override;
  void ApplyTranspose(const float* in, float* out) const override;
  const HadamardPlan* hadamard_plan() const override { return plan_.get(); }

 private:
  std::unique_ptr<const HadamardPlan> plan_;
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_HADAMARD_ROTATION_H_
