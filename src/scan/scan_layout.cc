// ScanLayout: flat codec codes <-> 32-vector scan blocks (see scan_layout.h).
#include "src/scan/scan_layout.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "src/codec/bitpack.h"
#include "src/codec/encode_steps.h"

namespace turboquant::internal {
namespace {

size_t RoundUpEven(size_t n) { return (n + 1) & ~size_t{1}; }

// Asks for transparent huge pages under large code blocks (before they are
// first touched): a scan that skips blocks, as a filtered one does, misses
// the TLB on nearly every block it reads with 4 KiB pages. Only advice: the
// kernel may ignore it, and memory-mapped segment files keep small pages.
void AdviseHugePages(uint8_t* data, size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

// Dense 3-bit chunks: the nibble (E byte e, high h) that holds slot s of a
// chunk, and back. The order makes any prefix of r slots fit the first
// ceil(3 r / 8) bytes (scan_layout.h).
struct Nibble {
  uint8_t e, h;
};
constexpr Nibble kSlotNibble[Dense3Shape::kChunkDims] = {{0, 0}, {0, 1}, {1, 0}, {1, 1},
                                                         {3, 0}, {2, 0}, {2, 1}, {3, 1}};
constexpr uint8_t kNibbleSlot[4][2] = {{0, 1}, {2, 3}, {5, 6}, {4, 7}};

unsigned NibbleOfIndex(unsigned index, unsigned spare_bit) {
  return spare_bit == 0 ? index << 1 : index;
}
unsigned IndexOfNibble(unsigned nibble, unsigned spare_bit) {
  return (spare_bit == 0 ? nibble >> 1 : nibble) & 7;
}

Dense3Shape MakeDense3Shape(size_t dim) {
  Dense3Shape d;
  d.chunks = (dim + Dense3Shape::kChunkDims - 1) / Dense3Shape::kChunkDims;
  d.whole_chunks = dim / Dense3Shape::kChunkDims;
  const size_t rest = dim % Dense3Shape::kChunkDims;
  d.last_bytes = rest == 0 ? Dense3Shape::kChunkBytes : PackedSize(rest, 3);
  d.whole_pairs = d.whole_chunks / 2;
  d.pairs = (d.chunks + 1) / 2;
  return d;
}

// The stored bytes N0..N2 of one chunk from its 8 indices (slot order).
void PackDense3Chunk(const uint8_t* slot_indices, uint8_t* n) {
  uint8_t e[4] = {0, 0, 0, 0};
  for (size_t s = 0; s < Dense3Shape::kChunkDims; ++s) {
    const Nibble at = kSlotNibble[s];
    e[at.e] |= NibbleOfIndex(slot_indices[s], Dense3Shape::kSpareBit[at.e][at.h]) << (4 * at.h);
  }
  // The inverse of Dense3SpareByte: E3's six bits into the spare bits.
  n[0] = static_cast<uint8_t>(e[0] | ((e[3] << 2) & 0x18));
  n[1] = static_cast<uint8_t>(e[1] | (e[3] & 0x11));
  n[2] = static_cast<uint8_t>(e[2] | ((e[3] >> 2) & 0x18));
}

void UnpackDense3Chunk(const uint8_t* n, uint8_t* slot_indices) {
  const uint8_t e[4] = {n[0], n[1], n[2], Dense3SpareByte(n[0], n[1], n[2])};
  for (size_t s = 0; s < Dense3Shape::kChunkDims; ++s) {
    const Nibble at = kSlotNibble[s];
    slot_indices[s] = static_cast<uint8_t>(
        IndexOfNibble((e[at.e] >> (4 * at.h)) & 0x0F, Dense3Shape::kSpareBit[at.e][at.h]));
  }
}

void AppendDense3(const CodeShape& s, const uint8_t* code, size_t v, uint8_t* block) {
  thread_local std::vector<uint8_t> indices;
  indices.assign(s.dense.chunks * Dense3Shape::kChunkDims, 0);
  UnpackBits(code, s.dim, 3, indices.data());
  for (size_t c = 0; c < s.dense.chunks; ++c) {
    uint8_t n[Dense3Shape::kChunkBytes];
    PackDense3Chunk(&indices[c * Dense3Shape::kChunkDims], n);
    for (size_t k = 0; k < s.dense.ChunkBytes(c); ++k) block[s.dense.ByteOffset(c, k, v)] = n[k];
  }
}

void ExtractDense3(const CodeShape& s, const uint8_t* block, size_t v, uint8_t* code) {
  thread_local std::vector<uint8_t> indices;
  indices.resize(s.dense.chunks * Dense3Shape::kChunkDims);
  for (size_t c = 0; c < s.dense.chunks; ++c) {
    uint8_t n[Dense3Shape::kChunkBytes] = {0, 0, 0};
    for (size_t k = 0; k < s.dense.ChunkBytes(c); ++k) n[k] = block[s.dense.ByteOffset(c, k, v)];
    UnpackDense3Chunk(n, &indices[c * Dense3Shape::kChunkDims]);
  }
  PackBits(indices.data(), s.dim, 3, code);
}

}  // namespace

size_t Dense3Shape::ByteOffset(size_t c, size_t k, size_t v) const {
  const size_t pair = c / 2, y = c % 2;
  if (pair < whole_pairs) return pair * kPairBytes + BlockByteOffset(2 * k + y, v);
  // The partial pair: plain columns, chunk x's bytes first.
  const size_t column = y ? ChunkBytes(c - 1) + k : k;
  return pair * kPairBytes + column * kBlockVectors + v;
}

void FillPartialDense3Pair(const Dense3Shape& dense, const uint8_t* block, uint8_t* pair) {
  std::memset(pair, 0, Dense3Shape::kPairBytes);
  for (size_t c = 2 * dense.whole_pairs; c < dense.chunks; ++c) {
    for (size_t k = 0; k < dense.ChunkBytes(c); ++k) {
      const uint8_t* column = block + dense.ByteOffset(c, k, 0);
      const size_t group = 2 * k + c % 2;
      std::memcpy(pair + BlockByteOffset(group, 0), column, 16);
      std::memcpy(pair + BlockByteOffset(group, 16), column + 16, 16);
    }
  }
}

uint8_t MseGroupByte(const CodeShape& s, const uint8_t* block, size_t g, size_t v) {
  if (!s.dense3) return block[BlockByteOffset(g, v)];
  const size_t e = (g % 8) / 2, c = 2 * (g / 8) + g % 2;
  if (c >= s.dense.chunks) return 0;
  uint8_t n[Dense3Shape::kChunkBytes] = {0, 0, 0};
  for (size_t k = 0; k < s.dense.ChunkBytes(c); ++k) n[k] = block[s.dense.ByteOffset(c, k, v)];
  return e < 3 ? n[e] : Dense3SpareByte(n[0], n[1], n[2]);
}

int NibbleDim(const CodeShape& s, size_t j) {
  size_t dim = j;
  if (s.dense3) {
    const size_t g = j / 2, e = (g % 8) / 2, c = 2 * (g / 8) + g % 2;
    dim = c * Dense3Shape::kChunkDims + kNibbleSlot[e][j % 2];
  }
  return dim < static_cast<size_t>(s.dim) ? static_cast<int>(dim) : -1;
}

int NibbleIndex(const CodeShape& s, size_t j, unsigned nibble) {
  if (!s.dense3) return static_cast<int>(nibble);
  const size_t e = (j / 2 % 8) / 2;
  return static_cast<int>(IndexOfNibble(nibble, Dense3Shape::kSpareBit[e][j % 2]));
}

CodeShape::CodeShape(const Codec& codec) {
  kind = codec.kind();
  dim = codec.dim();
  index_bits = kind == CodecKind::kMse ? codec.bits() : codec.bits() - 1;
  lookup_tables = index_bits <= 4;
  dense3 = index_bits == 3;
  signs = kind == CodecKind::kProd;
  code_size = codec.code_size();
  mse.flat_bytes = PackedSize(dim, index_bits);
  if (dense3) {
    dense = MakeDense3Shape(dim);
    mse.groups = 8 * dense.pairs;  // E0..E3 of two chunks per chunk pair
    mse.block_bytes = mse.flat_bytes * kBlockVectors;
  } else {
    mse.groups = RoundUpEven(mse.flat_bytes);
    mse.block_bytes = mse.groups * kBlockVectors;
  }
  if (signs) {
    sign.flat_bytes = PackedSize(dim, 1);
    sign.groups = RoundUpEven(sign.flat_bytes);
    sign.block_bytes = sign.groups * kBlockVectors;
  }
  groups = mse.groups + sign.groups;
  block_bytes = mse.block_bytes + sign.block_bytes;
}

ScanLayout::ScanLayout(const Codec& codec) : data_(std::make_unique<Data>()) {
  data_->codec = &codec;
  data_->shape = CodeShape(codec);
}

ScanLayout::~ScanLayout() = default;
ScanLayout::ScanLayout(ScanLayout&&) noexcept = default;
ScanLayout& ScanLayout::operator=(ScanLayout&&) noexcept = default;

ScanLayout ScanLayout::View(const Codec& codec, size_t rows, const uint8_t* blocks,
                            const float* norms, const float* scalars) {
  ScanLayout layout(codec);
  Data& d = *layout.data_;
  d.size = rows;
  d.num_blocks = (rows + kBlockVectors - 1) / kBlockVectors;
  d.blocks = blocks;
  d.norms = norms;
  d.scalars = scalars;
  d.is_view = true;
  return layout;
}

ScanLayout ScanLayout::Clone() const {
  ScanLayout copy(*data_->codec);
  copy.Reserve(data_->num_blocks);
  Data& c = *copy.data_;
  c.size = data_->size;
  c.num_blocks = data_->num_blocks;
  if (c.num_blocks > 0) {
    std::memcpy(c.owned_blocks.get(), data_->blocks, c.num_blocks * c.shape.block_bytes);
  }
  c.owned_norms.assign(data_->norms, data_->norms + c.num_blocks * kBlockVectors);
  c.owned_scalars.assign(data_->scalars, data_->scalars + c.num_blocks * kBlockVectors);
  c.norms = c.owned_norms.data();
  c.scalars = c.owned_scalars.data();
  return copy;
}

// Makes the storage owned, with room for `blocks` blocks.
void ScanLayout::Reserve(size_t blocks) {
  Data& d = *data_;
  const CodeShape& s = d.shape;
  if (!d.is_view && blocks <= d.capacity_blocks) return;
  const size_t capacity = std::max(blocks, d.capacity_blocks * 2);
  auto grown = hwy::AllocateAligned<uint8_t>(std::max<size_t>(1, capacity * s.block_bytes));
  AdviseHugePages(grown.get(), capacity * s.block_bytes);
  if (d.num_blocks > 0) std::memcpy(grown.get(), d.blocks, d.num_blocks * s.block_bytes);
  d.owned_blocks = std::move(grown);
  d.blocks = d.owned_blocks.get();
  d.capacity_blocks = capacity;
  if (d.is_view) {
    d.owned_norms.assign(d.norms, d.norms + d.num_blocks * kBlockVectors);
    d.owned_scalars.assign(d.scalars, d.scalars + d.num_blocks * kBlockVectors);
    d.is_view = false;
  }
  d.owned_norms.reserve(capacity * kBlockVectors);
  d.owned_scalars.reserve(capacity * kBlockVectors);
  d.norms = d.owned_norms.data();
  d.scalars = d.owned_scalars.data();
}

size_t ScanLayout::size() const { return data_->size; }
size_t ScanLayout::num_blocks() const { return data_->num_blocks; }
bool ScanLayout::uses_lookup_tables() const { return data_->shape.lookup_tables; }
size_t ScanLayout::block_bytes() const { return data_->shape.block_bytes; }
size_t ScanLayout::bytes_per_vector() const {
  return data_->shape.block_bytes / kBlockVectors + 2 * sizeof(float);
}

absl::Span<const uint8_t> ScanLayout::block_data() const {
  return {data_->blocks, data_->num_blocks * data_->shape.block_bytes};
}
absl::Span<const float> ScanLayout::norm_data() const {
  return {data_->norms, data_->num_blocks * kBlockVectors};
}
absl::Span<const float> ScanLayout::scalar_data() const {
  return {data_->scalars, data_->num_blocks * kBlockVectors};
}

size_t ScanLayout::memory_bytes() const {
  const Data& d = *data_;
  if (d.is_view) return d.num_blocks * (d.shape.block_bytes + 2 * kBlockVectors * sizeof(float));
  return d.capacity_blocks * d.shape.block_bytes +
         (d.owned_norms.capacity() + d.owned_scalars.capacity()) * sizeof(float);
}

size_t ScanLayout::scan_bytes() const {
  return data_->num_blocks * (data_->shape.block_bytes + 2 * kBlockVectors * sizeof(float));
}

void ScanLayout::Append(const uint8_t* codes, size_t n) {
  Data& d = *data_;
  const CodeShape& s = d.shape;
  if (n == 0) return;
  const size_t new_size = d.size + n;
  const size_t new_blocks = (new_size + kBlockVectors - 1) / kBlockVectors;
  Reserve(new_blocks);
  uint8_t* blocks = d.owned_blocks.get();
  if (new_blocks > d.num_blocks) {
    std::memset(blocks + d.num_blocks * s.block_bytes, 0,
                (new_blocks - d.num_blocks) * s.block_bytes);
    d.owned_norms.resize(new_blocks * kBlockVectors, 0.0f);
    d.owned_scalars.resize(new_blocks * kBlockVectors, 0.0f);
    d.norms = d.owned_norms.data();
    d.scalars = d.owned_scalars.data();
    d.num_blocks = new_blocks;
  }

  for (size_t i = 0; i < n; ++i) {
    const uint8_t* code = codes + i * s.code_size;
    const size_t row = d.size + i;
    const size_t v = row % kBlockVectors;
    uint8_t* block = blocks + (row / kBlockVectors) * s.block_bytes;
    if (s.dense3) {
      AppendDense3(s, code, v, block);
    } else {
      for (size_t g = 0; g < s.mse.flat_bytes; ++g) block[BlockByteOffset(g, v)] = code[g];
    }
    const uint8_t* signs = code + s.mse.flat_bytes;
    uint8_t* sign_section = block + s.mse.block_bytes;
    for (size_t g = 0; g < s.sign.flat_bytes; ++g) sign_section[BlockByteOffset(g, v)] = signs[g];
    const size_t position = (row / kBlockVectors) * kBlockVectors + FloatPosition(v);
    d.owned_norms[position] = LoadNorm(code + s.code_size);
    d.owned_scalars[position] = LoadSecondScalar(code + s.code_size);
  }
  d.size = new_size;
}

void ScanLayout::AppendRows(const ScanLayout& from, size_t first, size_t count) {
  Data& d = *data_;
  const Data& f = *from.data_;
  const size_t block_bytes = d.shape.block_bytes;
  // Block-aligned on both sides: the blocks, norms and scalars copy as is.
  if (d.size % kBlockVectors == 0 && first % kBlockVectors == 0 && count >= kBlockVectors) {
    const size_t whole = count / kBlockVectors;
    const size_t at = d.size / kBlockVectors, from_block = first / kBlockVectors;
    Reserve(at + whole);
    std::memcpy(d.owned_blocks.get() + at * block_bytes, f.block(from_block), whole * block_bytes);
    const size_t floats = whole * kBlockVectors;
    d.owned_norms.resize((at + whole) * kBlockVectors);
    d.owned_scalars.resize((at + whole) * kBlockVectors);
    std::memcpy(&d.owned_norms[at * kBlockVectors], f.norms + first, floats * sizeof(float));
    std::memcpy(&d.owned_scalars[at * kBlockVectors], f.scalars + first, floats * sizeof(float));
    d.norms = d.owned_norms.data();
    d.scalars = d.owned_scalars.data();
    d.num_blocks = at + whole;
    d.size += floats;
    first += floats;
    count -= floats;
  }
  // The rest through flat codes, a bounded batch at a time.
  constexpr size_t kBatchRows = 256;
  std::vector<uint8_t> codes(std::min(count, kBatchRows) * d.shape.code_size);
  for (size_t done = 0; done < count;) {
    const size_t n = std::min(count - done, kBatchRows);
    for (size_t i = 0; i < n; ++i) {
      ExtractCodeFromData(f, first + done + i, &codes[i * d.shape.code_size]);
    }
    Append(codes.data(), n);
    done += n;
  }
}

void ScanLayout::ExtractCode(size_t row, uint8_t* code) const {
  ExtractCodeFromData(*data_, row, code);
}

void ExtractCodeFromData(const ScanLayout::Data& d, size_t row, uint8_t* code) {
  const CodeShape& s = d.shape;
  const size_t v = row % kBlockVectors;
  const uint8_t* block = d.block(row / kBlockVectors);
  if (s.dense3) {
    ExtractDense3(s, block, v, code);
  } else {
    for (size_t g = 0; g < s.mse.flat_bytes; ++g) code[g] = block[BlockByteOffset(g, v)];
  }
  uint8_t* signs = code + s.mse.flat_bytes;
  const uint8_t* sign_section = block + s.mse.block_bytes;
  for (size_t g = 0; g < s.sign.flat_bytes; ++g) signs[g] = sign_section[BlockByteOffset(g, v)];
  const size_t position = (row / kBlockVectors) * kBlockVectors + FloatPosition(v);
  StoreScalars(d.norms[position], d.scalars[position], code + s.code_size);
}

}  // namespace turboquant::internal
