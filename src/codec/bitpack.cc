#include "src/codec/bitpack.h"

#include <cstring>

namespace turboquant::internal {

// Eight values of `bits` bits fill exactly `bits` bytes, so groups of eight go
// through one 64-bit word; a partial last group is written bytewise.
void PackBits(const uint8_t* values, size_t count, int bits, uint8_t* out) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    uint64_t word = 0;
    for (int k = 0; k < 8; ++k) word |= static_cast<uint64_t>(values[i + k]) << (k * bits);
    for (int b = 0; b < bits; ++b) out[b] = static_cast<uint8_t>(word >> (8 * b));
    out += bits;
  }
  if (i == count) return;
  uint64_t word = 0;
  for (size_t k = 0; i + k < count; ++k) word |= static_cast<uint64_t>(values[i + k]) << (k * bits);
  const size_t tail_bytes = PackedSize(count - i, bits);
  for (size_t b = 0; b < tail_bytes; ++b) out[b] = static_cast<uint8_t>(word >> (8 * b));
}

void UnpackBits(const uint8_t* packed, size_t count, int bits, uint8_t* values) {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    uint64_t word = 0;
    for (int b = 0; b < bits; ++b) word |= static_cast<uint64_t>(packed[b]) << (8 * b);
    for (int k = 0; k < 8; ++k) values[i + k] = static_cast<uint8_t>((word >> (k * bits)) & mask);
    packed += bits;
  }
  if (i == count) return;
  uint64_t word = 0;
  const size_t tail_bytes = PackedSize(count - i, bits);
  for (size_t b = 0; b < tail_bytes; ++b) word |= static_cast<uint64_t>(packed[b]) << (8 * b);
  for (size_t k = 0; i + k < count; ++k) values[i + k] = static_cast<uint8_t>((word >> (k * bits)) & mask);
}

}  // namespace turboquant::internal
