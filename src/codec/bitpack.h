// Bit-packing of small unsigned indices into a dense little-endian bit stream:
// value i occupies bits [i * bits, (i + 1) * bits), least significant first.
// Every width 1..8 is packed (no byte per index).
#ifndef TURBOQUANT_SRC_CODEC_BITPACK_H_
#define TURBOQUANT_SRC_CODEC_BITPACK_H_

#include <cstddef>
#include <cstdint>

namespace turboquant::internal {

constexpr size_t PackedSize(size_t count, int bits) { return (count * bits + 7) / 8; }

// Writes PackedSize(count, bits) bytes; each value must be < 2^bits.
void PackBits(const uint8_t* values, size_t count, int bits, uint8_t* out);
// Reads back `count` values.
void UnpackBits(const uint8_t* packed, size_t count, int bits, uint8_t* values);

// Packing eight kBits-bit values held one per byte of a little-endian 64-bit
// word into its low 8 * kBits bits, in three SWAR steps: byte pairs into
// 16-bit lanes, those into 32-bit lanes, then the two halves. A step merging
// units of u bits that hold fields of f bits keeps the lower field (mask
// kLow) and moves the upper one down by u - f (shift, mask kHigh); the masks
// drop whatever the shift drags in from neighbouring units. The scalar packer
// (bitpack.cc) and the SIMD one (encode_kernels.cc) share these constants.
template <int kBits>
struct EightValuePacking {
  static_assert(kBits >= 1 && kBits <= 7, "8-bit values need no packing");
  static constexpr uint64_t Low(int n) { return (uint64_t{1} << n) - 1; }
  static constexpr uint64_t kEvery16 = 0x0001000100010001ULL;
  static constexpr uint64_t kEvery32 = 0x0000000100000001ULL;
  static constexpr int kShift1 = 8 - kBits;
  static constexpr uint64_t kLow1 = Low(kBits) * kEvery16;
  static constexpr uint64_t kHigh1 = (Low(kBits) << kBits) * kEvery16;
  static constexpr int kShift2 = 16 - 2 * kBits;
  static constexpr uint64_t kLow2 = Low(2 * kBits) * kEvery32;
  static constexpr uint64_t kHigh2 = (Low(2 * kBits) << (2 * kBits)) * kEvery32;
  static constexpr int kShift3 = 32 - 4 * kBits;
  static constexpr uint64_t kLow3 = Low(4 * kBits);
  static constexpr uint64_t kHigh3 = Low(4 * kBits) << (4 * kBits);
};

// The plain definition of PackBits, one value at a time: the reference the
// fast path is tested against.
void PackBitsReference(const uint8_t* values, size_t count, int bits, uint8_t* out);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_BITPACK_H_
