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

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_CODEC_BITPACK_H_
