// The fused encoder: normalize -> rotate -> quantize -> pack -> scalars (and,
// for ProdCodec, residual -> second rotation -> sign bits) for many vectors in
// one dynamically dispatched call, with no intermediate passes or copies.
// Codes are bit-identical to the step-by-step reference in encode_steps.h
// (EncodeMseReference / EncodeProdReference) on every SIMD target.
#ifndef TURBOQUANT_SRC_CODEC_ENCODE_KERNELS_H_
#define TURBOQUANT_SRC_CODEC_ENCODE_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "turboquant/codec.h"

namespace turboquant::internal {

class Codebook;
struct HadamardPlan;

// What the kernel needs of a codec.
struct EncoderPlan {
  size_t dim = 0;
  size_t code_size = 0;
  const HadamardPlan* rotation = nullptr;
  const Codebook* codebook = nullptr;          // of the MSE indices
  const HadamardPlan* qjl_rotation = nullptr;  // ProdCodec only
};

// Encodes `count` rows of codec.dim() finite floats into count codes. Uses the
// fused kernel for Hadamard rotations, else the reference pipeline.
void EncodeRows(const Codec& codec, const float* rows, size_t count, uint8_t* codes);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_ENCODE_KERNELS_H_
