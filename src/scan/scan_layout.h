// The byte layout of a ScanLayout block, shared by the layout, the query
// tables and the kernels.
//
// A code is viewed as up to two sections of 4-bit nibbles, each scored by one
// 16-entry table per nibble:
//   section 0, the MSE indices:  m = 1, 2, 4 bits: the flat packed bytes as
//                                 they are (a nibble holds 4, 2, 1 indices);
//                                 m = 3: the dense form below;
//   section 1, the QJL signs (prod only): the flat sign bytes (4 signs a nibble).
// Each section is scored as an even number of bytes ("groups"), zeros beyond
// the flat code, so that a section is a whole number of group pairs. MSE
// indices wider than 4 bits (the generic path) keep the flat bytes too.
//
// Block = 32 vectors. Groups are stored in pairs (2p, 2p+1) of 64 bytes,
// interleaved by halves of 16 vectors:
//   [group 2p, vectors 0..15 | group 2p+1, vectors 0..15 |
//    group 2p, vectors 16..31 | group 2p+1, vectors 16..31]
// Why: a byte shuffle (pshufb) looks up a table per 128-bit lane. With this
// order every 128-bit lane of a load holds the same nibble column, and the two
// tables of a pair ([T_2p, T_2p+1], 32 bytes) are one 256-bit load for AVX2
// (used for both halves) and one 256->512-bit broadcast for AVX-512, so the
// tables need no more memory than 16 bytes per nibble and no shuffle to place.
//
// Dense 3-bit indices (m = 3): exactly ceil(3 d / 8) bytes per vector. Dims
// come in chunks of 8 (24 bits = 3 bytes N0, N1, N2). Six of the dims take a
// nibble of N0..N2 each, with one spare bit per nibble; the other two live in
// those six spare bits, and the kernels rebuild them as a fourth byte
//   E3 = (N1 & 0x11) | ((N0 >> 2) & 0x06) | ((N2 << 2) & 0x60)
// (a shift, an and, an or per source byte, shared by all queries). The spare
// bit of a nibble is either its bit 3 or its bit 0, and the index fills the
// other three; the nibble's 16-entry table repeats each value for both states
// of the spare bit, so N0..N2 are looked up as they are, garbage bit and all.
// Scored like one index per nibble: groups E0 = N0, E1 = N1, E2 = N2, E3.
// Two chunks x, y form a "chunk pair" of three stored group pairs
// [N0x N0y], [N1x N1y], [N2x N2y] (192 bytes), scored as the four group pairs
// [E0x E0y] .. [E3x E3y]. Dims of a chunk fill, in this order, the nibbles
// N0.lo N0.hi N1.lo N1.hi E3.lo N2.lo N2.hi E3.hi, so a last chunk of r < 8
// dims needs only its first ceil(3 r / 8) bytes: they are all that is stored.
// The last chunk pair, if it is not two whole chunks, stores its bytes as
// plain 32-byte columns (chunk x's, then chunk y's) and the kernels copy
// them into a zeroed 192-byte chunk pair before scoring it.
//
// Section 1 (signs) follows section 0 in the block.
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
  size_t groups = 0;       // bytes per vector the kernels score (even)
  size_t block_bytes = 0;  // bytes of the section in a block
};

// The chunks of a dense 3-bit MSE section (see the top of this file).
struct Dense3Shape {
  static constexpr size_t kChunkDims = 8;
  static constexpr size_t kChunkBytes = 3;
  static constexpr size_t kPairBytes = 2 * kChunkBytes * kBlockVectors;  // 192
  // The spare bit (0 or 3) of the low (h = 0) and high nibble of E0..E3.
  static constexpr uint8_t kSpareBit[4][2] = {{3, 0}, {0, 0}, {3, 0}, {3, 3}};
  size_t chunks = 0;        // ceil(dim / 8)
  size_t whole_chunks = 0;  // chunks of 8 dims
  size_t last_bytes = 0;    // bytes stored of the last chunk (3 if it is whole)
  size_t whole_pairs = 0;   // chunk pairs of two whole chunks (stored as group pairs)
  size_t pairs = 0;         // all chunk pairs, the last maybe partial

  // Bytes stored per vector of chunk c.
  size_t ChunkBytes(size_t c) const { return c + 1 == chunks ? last_bytes : kChunkBytes; }
  bool has_partial_pair() const { return pairs > whole_pairs; }
  // Offset in the block of byte k (N0..N2) of chunk c of vector v; only for
  // k < ChunkBytes(c).
  size_t ByteOffset(size_t c, size_t k, size_t v) const;
};

// The static shape of one codec's codes, computed once.
struct CodeShape {
  CodecKind kind = CodecKind::kMse;
  int dim = 0;
  int index_bits = 0;          // bits of an MSE index (mse: bits, prod: bits - 1)
  bool lookup_tables = false;  // index_bits <= 4: the nibble-table path
  bool dense3 = false;         // index_bits == 3: the dense form
  bool signs = false;          // prod: a sign section follows
  size_t code_size = 0;
  SectionShape mse, sign;
  Dense3Shape dense;       // when dense3
  size_t groups = 0;       // mse.groups + sign.groups (table bytes per query / 32)
  size_t block_bytes = 0;  // mse.block_bytes + sign.block_bytes

  explicit CodeShape(const Codec& codec);
  CodeShape() = default;
};

// What the kernels score as MSE group g (< mse.groups) of vector v: the
// stored byte, or for dense 3-bit codes the rebuilt byte E (with spare bits).
uint8_t MseGroupByte(const CodeShape& shape, const uint8_t* block, size_t g, size_t v);
// The dim that MSE nibble j (= 2 g + high) of the scored groups holds when
// indices take a nibble each (3 or 4 bits), or -1 for padding.
int NibbleDim(const CodeShape& shape, size_t j);
// The MSE index that value `nibble` of MSE nibble j encodes (3 or 4 bits).
int NibbleIndex(const CodeShape& shape, size_t j, unsigned nibble);
// Dense 3-bit: E3 from the stored bytes N0..N2 of a chunk (the formula the
// SIMD kernels apply to whole vectors).
inline uint8_t Dense3SpareByte(uint8_t n0, uint8_t n1, uint8_t n2) {
  return static_cast<uint8_t>((n1 & 0x11) | ((n0 >> 2) & 0x06) | ((n2 << 2) & 0x60));
}
// Dense 3-bit: writes the last, partial chunk pair of `block` as a whole one
// (192 bytes, absent bytes zero) to `pair`.
void FillPartialDense3Pair(const Dense3Shape& dense, const uint8_t* block, uint8_t* pair);

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
