// The byte layout of a ScanLayout block, shared by the layout, the query
// tables and the kernels.
//
// A code is viewed as up to two sections of 4-bit nibbles, each scored by one
// 16-entry table per nibble:
//   section 0, the MSE indices:  m = 1, 2, 4 bits: the flat packed bytes as
//                                 they are (a nibble holds 4, 2, 1 indices);
//                                 m = 3: one index per nibble (the flat code
//                                 packs 3 bits, which do not split into
//                                 nibbles), i.e. byte g = idx[2g] | idx[2g+1] << 4;
//   section 1, the QJL signs (prod only): the flat sign bytes (4 signs a nibble).
// Each section is padded to an even number of bytes ("groups"), zeros beyond
// the flat code, so that a section is a whole number of group pairs. MSE
// indices wider than 4 bits (the generic path) keep the flat bytes too.
//
// Block = 32 vectors, groups * 32 bytes. Groups are stored in pairs
// (2p, 2p+1) of 64 bytes, interleaved by halves of 16 vectors:
//   [group 2p, vectors 0..15 | group 2p+1, vectors 0..15 |
//    group 2p, vectors 16..31 | group 2p+1, vectors 16..31]
// Why: a byte shuffle (pshufb) looks up a table per 128-bit lane. With this
// order every 128-bit lane of a load holds the same nibble column, and the two
// tables of a pair ([T_2p, T_2p+1], 32 bytes) are one 256-bit load for AVX2
// (used for both halves) and one 256->512-bit broadcast for AVX-512, so the
// tables need no more memory than 16 bytes per nibble and no shuffle to place.
//
// Per-vector floats (norm, second scalar) are stored per block in the order
// the kernels produce sums: position p < 16 holds vector 2p, p >= 16 holds
// vector 2(p - 16) + 1 (the u16 accumulators split even and odd bytes).
#ifndef TURBOQUANT_SRC_SCAN_SCAN_LAYOUT_H_
#define TURBOQUANT_SRC_SCAN_SCAN_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "src/scan/scan.h"

namespace turboquant::internal {

// Byte offset of (group, vector) inside a block.
inline size_t BlockByteOffset(size_t group, size_t vector) {
  return (group / 2) * 64 + (group % 2) * 16 + (vector / 16) * 32 + (vector % 16);
}
// Position of a vector among the per-vector floats of its block, and back.
inline size_t FloatPosition(size_t vector) { return (vector % 2) * 16 + vector / 2; }
inline size_t VectorAtPosition(size_t position) {
  return position < 16 ? 2 * position : 2 * (position - 16) + 1;
}

// Which nibble format a section holds.
struct SectionShape {
  size_t flat_bytes = 0;   // bytes of the section in the flat code
  size_t groups = 0;       // bytes per vector in the block (even)
};

// The static shape of one codec's codes, computed once.
struct CodeShape {
  CodecKind kind = CodecKind::kMse;
  int dim = 0;
  int index_bits = 0;       // bits of an MSE index (mse: bits, prod: bits - 1)
  bool lookup_tables = false;  // index_bits <= 4: the nibble-table path
  bool signs = false;       // prod: a sign section follows
  size_t code_size = 0;
  SectionShape mse, sign;
  size_t groups = 0;        // mse.groups + sign.groups
  size_t block_bytes = 0;   // groups * 32

  explicit CodeShape(const Codec& codec);
  CodeShape() = default;
};

struct ScanLayout::Data {
  const Codec* codec = nullptr;
  CodeShape shape;
  size_t size = 0;
  size_t num_blocks = 0;
  // What the kernels read: the owned storage below, or the caller's memory
  // of a View. norms/scalars hold num_blocks * 32 floats each, FloatPosition
  // order within a block; rows past `size` hold zeros.
  const uint8_t* blocks = nullptr;
  const float* norms = nullptr;
  const float* scalars = nullptr;
  bool is_view = false;

  size_t capacity_blocks = 0;
  hwy::AlignedFreeUniquePtr<uint8_t[]> owned_blocks{nullptr, hwy::AlignedFreer()};
  std::vector<float> owned_norms;
  std::vector<float> owned_scalars;

  const uint8_t* block(size_t b) const { return blocks + b * shape.block_bytes; }
};

// ScanLayout::ExtractCode on the data itself (for kernels).
void ExtractCodeFromData(const ScanLayout::Data& data, size_t row, uint8_t* code);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_SCAN_LAYOUT_H_
