#include "src/codec/rotation.h"

#include "absl/strings/str_format.h"
#include "src/codec/dense_rotation.h"
#include "src/codec/hadamard_rotation.h"

namespace turboquant::internal {

StatusOr<std::unique_ptr<Rotation>> Rotation::Create(RotationKind kind, int dim, uint64_t seed) {
  if (dim < Codec::kMinDim || dim > Codec::kMaxDim) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "dim %d is out of range: must be %d..%d", dim, Codec::kMinDim, Codec::kMaxDim));
  }
  switch (kind) {
    case RotationKind::kHadamard:
      return std::unique_ptr<Rotation>(new HadamardRotation(dim, seed));
    case RotationKind::kDenseOrthogonal:
      if (dim > Codec::kMaxDenseDim) {
        return absl::InvalidArgumentError(
            absl::StrFormat("dim %d is too large for the dense rotation (at most %d); use the "
                            "Hadamard rotation",
                            dim, Codec::kMaxDenseDim));
      }
      return std::unique_ptr<Rotation>(new DenseRotation(dim, seed));
  }
  return absl::InvalidArgumentError("unknown rotation kind");
}

}  // namespace turboquant::internal
