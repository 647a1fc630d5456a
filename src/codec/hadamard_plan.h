// The data of one seeded randomized Hadamard rotation (see
// hadamard_rotation.cc): power-of-two blocks, per-round signs and the
// permutations between rounds. Shared by the rotation and the encode kernels,
// which run the same rounds fused with the rest of the encoder.
#ifndef TURBOQUANT_SRC_CODEC_HADAMARD_PLAN_H_
#define TURBOQUANT_SRC_CODEC_HADAMARD_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace turboquant::internal {

struct HadamardBlock {
  size_t offset;
  size_t size;  // a power of two
};

struct HadamardPlan {
  static constexpr int kRounds = 3;
  size_t dim = 0;
  std::vector<HadamardBlock> blocks;  // the binary decomposition of dim, largest first
  std::vector<float> signs[kRounds];  // +-1/sqrt(block size) per coordinate
  // Round r is followed by x[i] <- x[permutations[r][i]]; empty (no
  // permutation) when dim is a power of two.
  std::vector<uint32_t> permutations[kRounds - 1];
};

// Builds the plan of HadamardRotation(dim, seed).
HadamardPlan MakeHadamardPlan(int dim, uint64_t seed);

// Scalar reference of the forward rotation, out = R * in: what every SIMD
// path must reproduce bit for bit. `in` and `out` must not overlap.
void HadamardForwardReference(const HadamardPlan& plan, const float* in, float* out);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_HADAMARD_PLAN_H_
