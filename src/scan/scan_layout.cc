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

}  // namespace

CodeShape::CodeShape(const Codec& codec) {
  kind = codec.kind();
  dim = codec.dim();
  index_bits = kind == CodecKind::kMse ? codec.bits() : codec.bits() - 1;
  lookup_tables = index_bits <= 4;
  signs = kind == CodecKind::kProd;
  code_size = codec.code_size();
  mse.flat_bytes = PackedSize(dim, index_bits);
  // 3-bit indices take a whole nibble each in the scan layout.
  mse.groups = RoundUpEven(index_bits == 3 ? (static_cast<size_t>(dim) + 1) / 2 : mse.flat_bytes);
  if (signs) {
    sign.flat_bytes = PackedSize(dim, 1);
    sign.groups = RoundUpEven(sign.flat_bytes);
  }
  groups = mse.groups + sign.groups;
  block_bytes = groups * kBlockVectors;
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

  std::vector<uint8_t> indices(s.index_bits == 3 ? s.dim + 1 : 0, 0);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* code = codes + i * s.code_size;
    const size_t row = d.size + i;
    const size_t v = row % kBlockVectors;
    uint8_t* block = blocks + (row / kBlockVectors) * s.block_bytes;
    if (s.index_bits == 3) {
      UnpackBits(code, s.dim, 3, indices.data());
      for (size_t g = 0; g < s.mse.groups; ++g) {
        const size_t lo = 2 * g, hi = 2 * g + 1;
        const uint8_t byte = static_cast<uint8_t>((lo < size_t(s.dim) ? indices[lo] : 0) |
                                                  (hi < size_t(s.dim) ? indices[hi] << 4 : 0));
        block[BlockByteOffset(g, v)] = byte;
      }
    } else {
      for (size_t g = 0; g < s.mse.flat_bytes; ++g) block[BlockByteOffset(g, v)] = code[g];
    }
    const uint8_t* signs = code + s.mse.flat_bytes;
    for (size_t g = 0; g < s.sign.flat_bytes; ++g) {
      block[BlockByteOffset(s.mse.groups + g, v)] = signs[g];
    }
    const size_t position = (row / kBlockVectors) * kBlockVectors + FloatPosition(v);
    d.owned_norms[position] = LoadNorm(code + s.code_size);
    d.owned_scalars[position] = LoadSecondScalar(code + s.code_size);
  }
  d.size = new_size;
}

void ScanLayout::ExtractCode(size_t row, uint8_t* code) const {
  ExtractCodeFromData(*data_, row, code);
}

void ExtractCodeFromData(const ScanLayout::Data& d, size_t row, uint8_t* code) {
  const CodeShape& s = d.shape;
  const size_t v = row % kBlockVectors;
  const uint8_t* block = d.block(row / kBlockVectors);
  if (s.index_bits == 3) {
    thread_local std::vector<uint8_t> indices;
    indices.resize(2 * s.mse.groups);
    for (size_t g = 0; g < s.mse.groups; ++g) {
      const uint8_t byte = block[BlockByteOffset(g, v)];
      indices[2 * g] = byte & 0x0F;
      indices[2 * g + 1] = byte >> 4;
    }
    PackBits(indices.data(), s.dim, 3, code);
  } else {
    for (size_t g = 0; g < s.mse.flat_bytes; ++g) code[g] = block[BlockByteOffset(g, v)];
  }
  uint8_t* signs = code + s.mse.flat_bytes;
  for (size_t g = 0; g < s.sign.flat_bytes; ++g) {
    signs[g] = block[BlockByteOffset(s.mse.groups + g, v)];
  }
  const size_t position = (row / kBlockVectors) * kBlockVectors + FloatPosition(v);
  StoreScalars(d.norms[position], d.scalars[position], code + s.code_size);
}

}  // namespace turboquant::internal
