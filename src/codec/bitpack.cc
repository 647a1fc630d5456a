#include "src/codec/bitpack.h"

#include <cstring>

namespace turboquant::internal {
namespace {

// Eight values, one per byte of `word`, packed by the SWAR steps of
// EightValuePacking (bitpack.h).
template <int kBits>
inline uint64_t PackEight(uint64_t word) {
  using P = EightValuePacking<kBits>;
  word = (word & P::kLow1) | ((word >> P::kShift1) & P::kHigh1);
  word = (word & P::kLow2) | ((word >> P::kShift2) & P::kHigh2);
  word = (word & P::kLow3) | ((word >> P::kShift3) & P::kHigh3);
  return word;
}

constexpr bool kLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

inline uint64_t LoadLittleEndian64(const uint8_t* p) {
  uint64_t word = 0;
  if constexpr (kLittleEndian) {
    std::memcpy(&word, p, 8);
  } else {
    for (int b = 0; b < 8; ++b) word |= static_cast<uint64_t>(p[b]) << (8 * b);
  }
  return word;
}

template <size_t kBytes>
inline void StoreLittleEndian(uint64_t word, uint8_t* p) {
  if constexpr (kLittleEndian) {
    std::memcpy(p, &word, kBytes);
  } else {
    for (size_t b = 0; b < kBytes; ++b) p[b] = static_cast<uint8_t>(word >> (8 * b));
  }
}

// Groups of eight values; a group whose 8-byte store stays inside the output
// writes all 8 bytes (the next group overwrites the excess), the last ones
// exactly kBits bytes. Returns how many values were packed.
template <int kBits>
size_t PackGroups(const uint8_t* values, size_t count, uint8_t* out) {
  const size_t groups = count / 8;
  const size_t total_bytes = groups * kBits;
  for (size_t g = 0; g < groups; ++g) {
    const uint64_t packed = PackEight<kBits>(LoadLittleEndian64(values + 8 * g));
    uint8_t* at = out + g * kBits;
    if (g * kBits + 8 <= total_bytes) {
      StoreLittleEndian<8>(packed, at);
    } else {
      StoreLittleEndian<kBits>(packed, at);
    }
  }
  return groups * 8;
}

size_t PackGroupsOfEight(const uint8_t* values, size_t count, int bits, uint8_t* out) {
  switch (bits) {
    case 1: return PackGroups<1>(values, count, out);
    case 2: return PackGroups<2>(values, count, out);
    case 3: return PackGroups<3>(values, count, out);
    case 4: return PackGroups<4>(values, count, out);
    case 5: return PackGroups<5>(values, count, out);
    case 6: return PackGroups<6>(values, count, out);
    case 7: return PackGroups<7>(values, count, out);
    case 8: std::memcpy(out, values, count); return count;
    default: return 0;
  }
}

}  // namespace

void PackBits(const uint8_t* values, size_t count, int bits, uint8_t* out) {
  const size_t done = PackGroupsOfEight(values, count, bits, out);
  if (done == count) return;
  // A partial last group, bytewise.
  PackBitsReference(values + done, count - done, bits, out + done / 8 * bits);
}

void PackBitsReference(const uint8_t* values, size_t count, int bits, uint8_t* out) {
  std::memset(out, 0, PackedSize(count, bits));
  for (size_t i = 0; i < count; ++i) {
    const size_t bit = i * bits;
    const uint32_t shifted = static_cast<uint32_t>(values[i]) << (bit % 8);
    out[bit / 8] |= static_cast<uint8_t>(shifted);
    if (bit % 8 + bits > 8) out[bit / 8 + 1] |= static_cast<uint8_t>(shifted >> 8);
  }
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
