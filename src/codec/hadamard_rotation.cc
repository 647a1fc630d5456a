// Seeded randomized Hadamard rotation: three rounds of
//   x <- P_r * H * D_r * x
// where D_r flips signs at random (and carries the 1/sqrt(n) normalization),
// H is the Walsh-Hadamard transform applied block-diagonally over the binary
// decomposition of dim (e.g. 768 = 512 + 256), and P_r is a seeded random
// permutation that mixes coordinates across blocks between rounds. A single
// power-of-two block needs no permutation. O(d log d) per vector, orthogonal
// for every dim, and exactly invertible by running the rounds backwards.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/codec/hadamard_rotation.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "src/codec/hadamard-inl.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {

void HadamardForward(const HadamardPlan& plan, const float* in, float* out, float* scratch) {
  RotateForward<RoundLoad::kSigns>(plan, in, 1.0f, out, scratch);
}

void HadamardInverse(const HadamardPlan& plan, const float* in, float* out, float* scratch) {
  RotateInverse(plan, in, out, scratch);
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "src/codec/hadamard_rotation.h"
#include "src/util/random.h"

namespace turboquant::internal {

HWY_EXPORT(HadamardForward);
HWY_EXPORT(HadamardInverse);

namespace {

float* Scratch(size_t dim) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < dim) scratch.resize(dim);
  return scratch.data();
}

}  // namespace

HadamardPlan MakeHadamardPlan(int dim, uint64_t seed) {
  HadamardPlan plan;
  plan.dim = static_cast<size_t>(dim);
  for (size_t offset = 0, size = size_t{1} << 30; offset < plan.dim; size >>= 1) {
    if (plan.dim - offset >= size) {
      plan.blocks.push_back({offset, size});
      offset += size;
    }
  }
  SeededRandom random(seed);
  for (int r = 0; r < HadamardPlan::kRounds; ++r) {
    plan.signs[r].resize(plan.dim);
    for (const HadamardBlock& block : plan.blocks) {
      const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(block.size)));
      for (size_t i = block.offset; i < block.offset + block.size; ++i) {
        plan.signs[r][i] = (random.Next() >> 63) ? -scale : scale;
      }
    }
  }
  if (plan.blocks.size() > 1) {
    for (auto& perm : plan.permutations) {
      perm.resize(plan.dim);
      for (size_t i = 0; i < plan.dim; ++i) perm[i] = static_cast<uint32_t>(i);
      for (size_t i = plan.dim - 1; i > 0; --i) std::swap(perm[i], perm[random.Below(i + 1)]);
    }
  }
  return plan;
}

// The definition of the rotation, one plain step at a time.
void HadamardForwardReference(const HadamardPlan& plan, const float* in, float* out) {
  std::vector<float> scratch(plan.dim);
  std::memcpy(out, in, plan.dim * sizeof(float));
  for (int r = 0; r < HadamardPlan::kRounds; ++r) {
    for (size_t i = 0; i < plan.dim; ++i) out[i] *= plan.signs[r][i];
    for (const HadamardBlock& block : plan.blocks) {
      float* x = out + block.offset;
      for (size_t h = 1; h < block.size; h <<= 1) {
        for (size_t i = 0; i < block.size; i += 2 * h) {
          for (size_t j = i; j < i + h; ++j) {
            const float a = x[j];
            const float b = x[j + h];
            x[j] = a + b;
            x[j + h] = a - b;
          }
        }
      }
    }
    if (r + 1 < HadamardPlan::kRounds && !plan.permutations[r].empty()) {
      for (size_t i = 0; i < plan.dim; ++i) scratch[i] = out[plan.permutations[r][i]];
      std::memcpy(out, scratch.data(), plan.dim * sizeof(float));
    }
  }
}

HadamardRotation::HadamardRotation(int dim, uint64_t seed)
    : Rotation(dim), plan_(std::make_unique<HadamardPlan>(MakeHadamardPlan(dim, seed))) {}

HadamardRotation::~HadamardRotation() = default;

void HadamardRotation::Apply(const float* in, float* out) const {
  HWY_DYNAMIC_DISPATCH(HadamardForward)(*plan_, in, out, Scratch(plan_->dim));
}

void HadamardRotation::ApplyTranspose(const float* in, float* out) const {
  HWY_DYNAMIC_DISPATCH(HadamardInverse)(*plan_, in, out, Scratch(plan_->dim));
}

}  // namespace turboquant::internal
#endif  // HWY_ONCE
