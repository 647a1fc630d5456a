// Steps shared by both codecs: the reference encoder, reconstructing the
// rotated direction from indices, and the placement of the two trailing float
// scalars in a code.
#ifndef TURBOQUANT_SRC_CODEC_ENCODE_STEPS_H_
#define TURBOQUANT_SRC_CODEC_ENCODE_STEPS_H_

#include <cstdint>
#include <cstring>
#include <vector>

#include "src/codec/codebook.h"
#include "src/codec/rotation.h"
#include "turboquant/codec.h"

namespace turboquant::internal {

// Per-thread working buffers of one codec call, sized for `dim`.
struct CodecScratch {
  std::vector<float> unit, rotated, reconstructed, residual, projected;
  std::vector<uint8_t> indices;
  static CodecScratch& ForThread(int dim);
};

// The encoder one plain scalar step at a time: the definition of a code. The
// fused kernels (encode_kernels.h) must reproduce it bit for bit; codecs with
// a dense rotation encode through it.
void EncodeReference(const Codec& codec, const float* vector, uint8_t* code);

// out[i] = centroid of indices[i].
void LookupCentroids(const Codebook& codebook, const uint8_t* indices, size_t n, float* out);

// The two float scalars at the end of every code: ||x|| then a codec-specific one.
inline void StoreScalars(float norm, float second, uint8_t* code_end) {
  std::memcpy(code_end - 8, &norm, 4);
  std::memcpy(code_end - 4, &second, 4);
}
inline float LoadNorm(const uint8_t* code_end) {
  float value;
  std::memcpy(&value, code_end - 8, 4);
  return value;
}
inline float LoadSecondScalar(const uint8_t* code_end) {
  float value;
  std::memcpy(&value, code_end - 4, 4);
  return value;
}

// Checks dim and bits (min_bits..8) and names the codec in the error.
Status ValidateCodecOptions(const CodecOptions& options, int min_bits, const char* codec_name);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_ENCODE_STEPS_H_
