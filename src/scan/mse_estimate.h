// MseCodec::EstimateInnerProduct from the bytes a scan layout keeps for MSE
// indices of 1, 2 or 4 bits (the flat packed bytes, little-endian within a
// byte): the same centroids, the same fixed-order dot and the same scalar, so
// the same bits, without the generic bit reader of the codec. The index uses
// it to re-score scan candidates.
#ifndef TURBOQUANT_SRC_SCAN_MSE_ESTIMATE_H_
#define TURBOQUANT_SRC_SCAN_MSE_ESTIMATE_H_

#include <cstddef>
#include <cstdint>

#include "src/util/fixed_order_sum.h"

namespace turboquant::internal {

// One row; `reconstructed` is scratch for dim floats.
template <int kBits>
float MseEstimate(const uint8_t* packed, const float* centroids, const float* rotated, size_t dim,
                  float scalar, float* reconstructed) {
  constexpr int kPerByte = 8 / kBits;
  constexpr unsigned kMask = (1u << kBits) - 1;
  const size_t whole = dim / kPerByte;
  for (size_t g = 0; g < whole; ++g) {
    for (int i = 0; i < kPerByte; ++i) {
      reconstructed[g * kPerByte + i] = centroids[(packed[g] >> (kBits * i)) & kMask];
    }
  }
  for (size_t j = whole * kPerByte; j < dim; ++j) {
    reconstructed[j] = centroids[(packed[whole] >> (kBits * (j - whole * kPerByte))) & kMask];
  }
  return FixedOrderDot(rotated, reconstructed, dim) * scalar;
}

// MseEstimate<4> of `count` rows whose packed bytes follow each other
// ((dim + 1) / 2 bytes a row) with the 16 centroids of 4-bit indices, scalar
// scalars[h] for row h, into out[h]; bit-identical to it. On AVX-512 the 16
// dims of each step are decoded in registers (vpermps on the centroids), which
// re-scored a siftsmall query's candidates in a fraction of the scalar time.
void MseEstimates4(const uint8_t* packed, size_t count, const float* centroids,
                   const float* rotated, size_t dim, const float* scalars, float* out);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_MSE_ESTIMATE_H_
