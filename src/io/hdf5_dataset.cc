// Message layouts from the HDF5 File Format Specification 3.0: dataspace
// (IV.A.2.b), datatype (IV.A.2.d), data layout versions 3 and 4 (IV.A.2.i),
// filter pipeline (IV.A.2.l), the version 1 B-tree of chunks (III.A.1) and
// the fixed array index (VII.B).
#include "src/io/hdf5_dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/io/file_error.h"
#include "src/io/hdf5_objects.h"
#include "src/io/layout.h"

namespace turboquant::io::hdf5 {
namespace {

// Deflate shrinks data at most 1032:1; more declared values than that per
// stored byte is a corrupt header.
constexpr uint64_t kMaxCompressionRatio = 1032;
constexpr uint64_t kMaxChunkBytes = uint64_t{1} << 30;
constexpr uint16_t kDeflate = 1, kShuffle = 2, kFletcher32 = 3;

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

// "signed 32-bit integer", "64-bit float", for messages about types.
std::string TypeName(int type_class, uint32_t size, bool is_signed) {
  if (type_class == 1) return absl::StrCat(8 * size, "-bit float");
  if (type_class == 0) {
    return absl::StrCat(is_signed ? "signed " : "unsigned ", 8 * size, "-bit integer");
  }
  return absl::StrCat("HDF5 type class ", type_class);
}

void SwapBytes(char* values, size_t count, size_t size) {
  for (size_t i = 0; i < count; ++i) std::reverse(values + i * size, values + (i + 1) * size);
}

// zlib-wrapped deflate (H5Z_FILTER_DEFLATE) into at most `limit` bytes.
bool Inflate(const std::vector<uint8_t>& in, uint64_t limit, std::vector<uint8_t>* out) {
  out->resize(limit);
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return false;
  stream.next_in = const_cast<Bytef*>(in.data());
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = out->data();
  stream.avail_out = static_cast<uInt>(limit);
  const int result = inflate(&stream, Z_FINISH);
  out->resize(stream.total_out);
  inflateEnd(&stream);
  return result == Z_STREAM_END;
}

// The shuffle filter stores byte 0 of every element, then byte 1, ...; bytes
// after the last whole element stay where they are.
void Unshuffle(uint32_t element_bytes, std::vector<uint8_t>* bytes, std::vector<uint8_t>* scratch) {
  const size_t elements = element_bytes == 0 ? 0 : bytes->size() / element_bytes;
  if (element_bytes <= 1 || elements <= 1) return;
  scratch->assign(bytes->begin(), bytes->end());
  for (size_t b = 0; b < element_bytes; ++b) {
    for (size_t i = 0; i < elements; ++i)
      (*bytes)[i * element_bytes + b] = (*scratch)[b * elements + i];
  }
}

}  // namespace

StatusOr<Dataset> Dataset::Open(File file, const std::vector<Message>& header, std::string where) {
  Dataset dataset(std::move(file));
  dataset.where_ = std::move(where);
  const Message* layout = FindMessage(header, kLayoutMessage);
  const Message* space = FindMessage(header, kDataspaceMessage);
  const Message* type = FindMessage(header, kDatatypeMessage);
  if (layout == nullptr || space == nullptr || type == nullptr) {
    return CorruptFile(dataset.where_, "lacks its dataspace, datatype or layout message");
  }
  if (FindMessage(header, kExternalFilesMessage) != nullptr) {
    return InvalidFile(dataset.where_,
                       "keeps its values in other files (a virtual dataset or "
                       "external storage), which are not read");
  }
  for (const Message* message : {layout, space, type}) {
    if (message->shared()) {
      return absl::UnimplementedError(
          absl::StrCat(dataset.where_,
                       ": uses a shared (committed) datatype or dataspace, which this reader "
                       "does not follow"));
    }
  }
  Status status = dataset.ParseType(type->body);
  if (status.ok()) status = dataset.ParseShape(space->body);
  if (status.ok()) status = dataset.ParseLayout(layout->body);
  const Message* filters = FindMessage(header, kFilterPipelineMessage);
  if (status.ok() && filters != nullptr) status = dataset.ParseFilters(filters->body);
  if (status.ok() && dataset.layout_ == Layout::kChunked) status = dataset.ReadChunkIndex();
  if (status.ok()) status = dataset.CheckStorage();
  if (!status.ok()) return status;
  return dataset;
}

// Class and version, three bytes of class flags, the size, then for
// fixed-point numbers the bit offset and precision, and for floating point
// also the exponent and mantissa fields and the exponent bias. Only the
// standard layouts qualify, not merely ones of the right class and size: a
// 4-byte integer of 24608 bits' precision is not an int32.
Status Dataset::ParseType(const std::vector<uint8_t>& body) {
  Cursor cursor = file_.CursorOver(body);
  const int type_class = cursor.U8() & 0x0F;
  const uint8_t flags = cursor.U8();
  const uint8_t sign_location = cursor.U8();
  cursor.U8();
  const uint32_t size = cursor.U32();
  const uint16_t offset = cursor.U16();
  const uint16_t precision = cursor.U16();
  if (!cursor.ok()) return CorruptFile(where_, "its datatype message is truncated");
  const bool is_signed = (flags & 0x08) != 0;
  big_endian_ = (flags & 0x01) != 0;
  bool standard = offset == 0 && precision == 8 * size;
  if (type_class == 1) {
    const uint8_t exponent_at = cursor.U8(), exponent_bits = cursor.U8();
    const uint8_t mantissa_at = cursor.U8(), mantissa_bits = cursor.U8();
    const uint32_t bias = cursor.U32();
    const bool single = size == 4 && sign_location == 31 && exponent_at == 23 &&
                        exponent_bits == 8 && mantissa_at == 0 && mantissa_bits == 23 &&
                        bias == 127;
    const bool twice = size == 8 && sign_location == 63 && exponent_at == 52 &&
                       exponent_bits == 11 && mantissa_at == 0 && mantissa_bits == 52 &&
                       bias == 1023;
    standard = standard && cursor.ok() && (flags & 0x40) == 0 && ((flags >> 4) & 0x03) == 2 &&
               (single || twice);
    type_ = size == 8 ? ElementType::kFloat64 : ElementType::kFloat32;
  } else if (type_class == 0) {
    standard = standard &&
               ((size == 1 && !is_signed) || (size == 4 && is_signed) || (size == 8 && is_signed));
    type_ = size == 1 ? ElementType::kUint8 : size == 4 ? ElementType::kInt32 : ElementType::kInt64;
  }
  if ((type_class == 0 || type_class == 1) && standard) return absl::OkStatus();
  std::string name = TypeName(type_class, size, is_signed);
  if ((type_class == 0 || type_class == 1) && (size == 1 || size == 4 || size == 8)) {
    absl::StrAppend(&name, " (non-standard: precision ", precision, " bits at bit offset ", offset,
                    ")");
  }
  return InvalidFile(where_, absl::StrCat("holds ", name,
                                          " values; supported are float32, float64, uint8, "
                                          "int32 and int64 "
                                          "(convert it, e.g. with h5py: data.astype('float32'))"));
}

// Version 1: version, rank, flags, 5 reserved bytes; version 2: version,
// rank, flags, type (0 scalar, 1 simple, 2 null). Then the sizes.
Status Dataset::ParseShape(const std::vector<uint8_t>& body) {
  Cursor cursor = file_.CursorOver(body);
  const uint8_t version = cursor.U8();
  int rank = cursor.U8();
  cursor.U8();
  if (version == 1) {
    cursor.Skip(5);
  } else if (cursor.U8() == 2) {
    rank = 0;
  }
  if (rank < 1 || rank > 2) {
    return InvalidFile(where_, absl::StrCat("has ", rank,
                                            " dimensions; vectors need 2 (rows, dim) or 1 "
                                            "(rows, read as dim 1)"));
  }
  rank_ = rank;
  rows_ = cursor.Length();
  const uint64_t dim = rank == 2 ? cursor.Length() : 1;
  if (!cursor.ok() || (version != 1 && version != 2)) {
    return CorruptFile(where_, "its dataspace message is malformed");
  }
  Status dim_ok = CheckDim(where_, static_cast<int64_t>(std::min<uint64_t>(dim, INT64_MAX)),
                           "the dataset's shape");
  if (!dim_ok.ok()) return dim_ok;
  dim_ = static_cast<int>(dim);
  return absl::OkStatus();
}

// Versions 3 and 4: version, class (0 compact, 1 contiguous, 2 chunked,
// 3 virtual), then the class's fields.
Status Dataset::ParseLayout(const std::vector<uint8_t>& body) {
  Cursor cursor = file_.CursorOver(body);
  const uint8_t version = cursor.U8();
  const uint8_t layout_class = cursor.U8();
  if (version < 3 || version > 4) {
    return absl::UnimplementedError(
        absl::StrCat(where_, ": uses data layout message version ", version,
                     " (HDF5 1.4 and older, or newer than 1.12), which this reader does not read"));
  }
  if (layout_class == 3) {
    return InvalidFile(where_,
                       "keeps its values in other files (a virtual dataset or external "
                       "storage), which are not read");
  }
  if (layout_class == 0) {
    layout_ = Layout::kCompact;
    const absl::Span<const uint8_t> values = cursor.Bytes(cursor.U16());
    compact_.assign(values.begin(), values.end());
  } else if (layout_class == 1) {
    layout_ = Layout::kContiguous;
    address_ = cursor.Address();
    stored_bytes_ = cursor.Length();
  } else if (layout_class == 2) {
    layout_ = Layout::kChunked;
    const uint8_t flags = version == 4 ? cursor.U8() : 0;
    if (flags & 0x01) {
      return absl::UnimplementedError(absl::StrCat(
          where_,
          ": stores its partial edge chunks unfiltered (H5Pset_chunk_opts), which this "
          "reader does not read"));
    }
    const int axes = cursor.U8();
    const int width = version == 4 ? cursor.U8() : 4;
    if (version == 3) address_ = cursor.Address();
    uint64_t sizes[3] = {0, 0, 0};
    for (int axis = 0; axis < axes && axis < 3; ++axis) sizes[axis] = cursor.Number(width);
    if (!cursor.ok() || axes != rank_ + 1 || width < 1 || width > 8 ||
        sizes[rank_] != ElementSize(type_)) {
      return CorruptFile(where_, "its chunked layout message is malformed");
    }
    chunk_rows_ = static_cast<uint32_t>(std::min<uint64_t>(sizes[0], UINT32_MAX));
    chunk_columns_ =
        rank_ == 2 ? static_cast<uint32_t>(std::min<uint64_t>(sizes[1], UINT32_MAX)) : 1;
    if (version == 4) {
      chunk_index_type_ = cursor.U8();
      if (chunk_index_type_ == 1 && (flags & 0x02)) {
        single_chunk_filtered_ = true;
        single_chunk_.bytes = cursor.Length();
        single_chunk_.skipped_filters = cursor.U32();
      } else if (chunk_index_type_ == 3) {
        cursor.U8();  // page bits, which the array's header repeats
      } else if (chunk_index_type_ != 1 && chunk_index_type_ != 2) {
        return absl::UnimplementedError(absl::StrCat(
            where_, ": indexes its chunks with ",
            chunk_index_type_ == 4 ? "an extensible array" : "a version 2 B-tree",
            " (unlimited dimensions under libver='latest'), which this reader does not read; "
            "rewrite it with fixed dimensions or h5py's default format"));
      }
      address_ = cursor.Address();
    }
  } else {
    return CorruptFile(where_, absl::StrCat("has unknown layout class ", layout_class));
  }
  if (!cursor.ok()) return CorruptFile(where_, "its data layout message is malformed");
  return absl::OkStatus();
}

// Version 1: version, count, 6 reserved bytes, then per filter its id, name
// length, flags, value count, name (padded to 8) and values (padded to an
// even count). Version 2 drops the padding and the name of filters below 256.
Status Dataset::ParseFilters(const std::vector<uint8_t>& body) {
  Cursor cursor = file_.CursorOver(body);
  const uint8_t version = cursor.U8();
  const int count = cursor.U8();
  if (version == 1) cursor.Skip(6);
  for (int i = 0; i < count && cursor.ok(); ++i) {
    Filter filter;
    filter.id = cursor.U16();
    const uint16_t name_bytes = version == 1 || filter.id >= 256 ? cursor.U16() : 0;
    cursor.U16();
    const uint16_t values = cursor.U16();
    cursor.Skip(name_bytes);
    for (int v = 0; v < values; ++v) {
      const uint32_t value = cursor.U32();
      if (v == 0) filter.element_bytes = value;
    }
    if (version == 1 && values % 2 == 1) cursor.Skip(4);
    if (cursor.ok() && filter.id != kDeflate && filter.id != kShuffle && filter.id != kFletcher32) {
      return absl::UnimplementedError(
          absl::StrCat(where_, ": is stored with HDF5 filter ", filter.id,
                       ", which this reader does not decode (it decodes deflate/gzip, shuffle and "
                       "fletcher32)"));
    }
    filters_.push_back(filter);
  }
  if (!cursor.ok() || (version != 1 && version != 2)) {
    return CorruptFile(where_, "its filter pipeline message is malformed");
  }
  return absl::OkStatus();
}

// How many chunks the shape needs (of a size ReadChunkIndex checked is not
// 0), bounded by the file first: a tiny file may declare 2^40 rows.
StatusOr<uint64_t> Dataset::ChunkCount() const {
  const uint64_t bands = CeilDiv(rows_, chunk_rows_);
  if (bands > file_.size() || bands * column_chunks() > file_.size()) {
    return CorruptFile(where_, absl::StrFormat("declares %d rows in chunks of %d, more chunks than "
                                               "the %d-byte file can hold",
                                               rows_, chunk_rows_, file_.size()));
  }
  return bands * column_chunks();
}

Status Dataset::ReadChunkIndex() {
  if (chunk_rows_ == 0 || chunk_columns_ == 0) {
    return CorruptFile(where_, "declares chunks of size 0");
  }
  Status status;
  if (chunk_index_type_ == 0) {
    BTreeWalk tree(file_, /*type=*/1, 8 + 8 * (rank_ + 1), where_, "its chunk B-tree");
    if (address_ != file_.undefined_address()) status = ReadChunkTree(&tree, address_, -1);
  } else {
    StatusOr<uint64_t> count = ChunkCount();
    if (!count.ok()) return count.status();
    if (chunk_index_type_ == 3) {
      status = ReadFixedArray(*count);
    } else if (chunk_index_type_ == 1) {
      Chunk chunk = single_chunk_;
      if (!single_chunk_filtered_) chunk.bytes = chunk_bytes();
      chunk.address = address_;
      status = *count == 1 ? AddChunk(chunk)
                           : CorruptFile(where_, "has one chunk, smaller than its shape");
    } else if (address_ != file_.undefined_address()) {  // implicit: chunks back to back
      for (uint64_t i = 0; i < *count && status.ok(); ++i) {
        status = AddChunk({i, address_ + i * chunk_bytes(), chunk_bytes(), 0});
      }
    }
  }
  if (!status.ok()) return status;
  std::sort(chunks_.begin(), chunks_.end(),
            [](const Chunk& a, const Chunk& b) { return a.index < b.index; });
  for (size_t i = 1; i < chunks_.size(); ++i) {
    if (chunks_[i].index == chunks_[i - 1].index) {
      return CorruptFile(where_, "indexes one chunk twice");
    }
  }
  return absl::OkStatus();
}

// Every chunk takes at least a byte of index in the file, so more than the
// file's size are nodes visited twice (a B-tree may point at a node from
// several parents, and repeat itself without end in doing so).
Status Dataset::AddChunk(const Chunk& chunk) {
  if (chunks_.size() >= file_.size()) {
    return CorruptFile(where_, "indexes more chunks than the file can hold");
  }
  if (!file_.Contains(chunk.address, chunk.bytes)) {
    return CorruptFile(where_, absl::StrFormat("has a chunk of %d bytes at address %d, beyond the "
                                               "end of the file",
                                               chunk.bytes, chunk.address));
  }
  chunks_.push_back(chunk);
  return absl::OkStatus();
}

// A key of a chunk B-tree node is the chunk's stored size, its filter mask
// and its offset along each axis (and 0 for the element); a child is a lower
// node, or at level 0 the chunk.
Status Dataset::ReadChunkTree(BTreeWalk* tree, uint64_t address, int expected_level) {
  StatusOr<BTreeNode> node = tree->ReadNode(address, expected_level);
  if (!node.ok()) return node.status();
  Cursor cursor = file_.CursorOver(node->pairs);
  Status read;
  for (int i = 0; i < node->entries; ++i) {
    Chunk chunk;
    chunk.bytes = cursor.U32();
    chunk.skipped_filters = cursor.U32();
    uint64_t offsets[3] = {0, 0, 0};
    for (int axis = 0; axis <= rank_; ++axis) offsets[axis] = cursor.Number(8);
    chunk.address = cursor.Address();
    if (!cursor.ok()) return tree->Corrupt(address);
    if (node->level > 0) {
      read = ReadChunkTree(tree, chunk.address, node->level - 1);
      if (!read.ok()) return read;
      continue;
    }
    const uint64_t column = rank_ == 2 ? offsets[1] : 0;
    if (offsets[0] % chunk_rows_ != 0 || offsets[0] >= rows_ || column % chunk_columns_ != 0 ||
        column >= static_cast<uint64_t>(dim_) || offsets[rank_] != 0) {
      return CorruptFile(where_, "has a chunk at an offset outside its shape");
    }
    chunk.index = offsets[0] / chunk_rows_ * column_chunks() + column / chunk_columns_;
    read = AddChunk(chunk);
    if (!read.ok()) return read;
  }
  return absl::OkStatus();
}

// The header ("FAHD", version, client (1: filtered chunks), entry size, page
// bits, entry count, data block address) and the data block ("FADB",
// version, client, header address, then the entries; when there are more
// than 2^page_bits, a bitmap of initialized pages and the pages, each
// followed by a checksum). An entry is the chunk's address, and for filtered
// chunks its stored size and filter mask.
Status Dataset::ReadFixedArray(uint64_t count) {
  const Status corrupt = CorruptFile(where_, "its fixed array of chunks is corrupt");
  std::vector<uint8_t> bytes;
  const int o = file_.offset_bytes();
  Status read = file_.Read(address_, 8 + file_.length_bytes() + o, "a fixed array header", &bytes);
  if (!read.ok()) return read;
  Cursor header = file_.CursorOver(bytes);
  header.Expect("FAHD");
  header.U8();
  const bool filtered = header.U8() == 1;
  const uint64_t entry_bytes = header.U8();
  const int page_bits = header.U8();
  const uint64_t entries = header.Length();
  const uint64_t block = header.Address();
  const uint64_t size_bytes = filtered ? entry_bytes - o - 4 : 0;
  if (!header.ok() || entries != count || page_bits > 32 ||
      entry_bytes != (filtered ? o + 4 + size_bytes : o) || size_bytes > 8) {
    return corrupt;
  }
  const uint64_t page_entries = uint64_t{1} << page_bits;
  const bool paged = entries > page_entries;
  const uint64_t pages = paged ? CeilDiv(entries, page_entries) : 1;
  const uint64_t bitmap_bytes = paged ? CeilDiv(pages, 8) : 0;
  std::vector<uint8_t> bitmap;
  const uint64_t prefix = 6 + o;
  read = file_.Read(block + prefix, bitmap_bytes, "a fixed array page bitmap", &bitmap);
  uint64_t at = block + prefix + (paged ? bitmap_bytes + 4 : 0);
  for (uint64_t page = 0; page < pages && read.ok(); ++page) {
    const uint64_t first = page * page_entries;
    const uint64_t in_page = std::min(entries - first, paged ? page_entries : entries);
    const uint64_t page_bytes = in_page * entry_bytes;
    if (paged && !(bitmap[page / 8] & (0x80 >> (page % 8)))) {
      at += page_bytes + 4;
      continue;  // never written: its chunks are missing
    }
    read = file_.Read(at, page_bytes, "a fixed array page", &bytes);
    Cursor cursor = file_.CursorOver(bytes);
    for (uint64_t i = 0; i < in_page && read.ok(); ++i) {
      Chunk chunk{first + i, cursor.Address(), chunk_bytes(), 0};
      if (filtered) {
        chunk.bytes = cursor.Number(static_cast<int>(size_bytes));
        chunk.skipped_filters = cursor.U32();
      }
      if (!cursor.ok()) return corrupt;
      if (chunk.address != file_.undefined_address()) read = AddChunk(chunk);
    }
    at += page_bytes + 4;
  }
  return read;
}

// The stored bytes must lie in the file and hold the declared shape (filtered
// chunks: as far as compression can), so that rows * row_bytes is bounded
// by the file size before anyone trusts it: a 2 KB file may declare
// terabytes, and libhdf5 would return fill values for what it lacks.
Status Dataset::CheckStorage() {
  uint64_t stored = 0;
  if (layout_ == Layout::kCompact) {
    stored = compact_.size();
  } else if (layout_ == Layout::kContiguous) {
    stored = address_ == file_.undefined_address() ? 0 : stored_bytes_;
  } else {
    for (const Chunk& chunk : chunks_) stored += chunk.bytes;  // each lies in the file
  }
  const bool filtered = layout_ == Layout::kChunked && !filters_.empty();
  const uint64_t capacity =
      filtered ? std::min(stored, UINT64_MAX / kMaxCompressionRatio) * kMaxCompressionRatio
               : stored;
  // Dividing first keeps a huge declared row count from overflowing.
  const bool fits = rows_ <= capacity / row_bytes();
  const bool exact = layout_ == Layout::kChunked || (fits && rows_ * row_bytes() == stored);
  if (!fits || !exact) {
    return CorruptFile(
        where_, absl::StrFormat("declares %d rows of %d bytes, but stores %d bytes "
                                "%sfor them",
                                rows_, row_bytes(), stored, filtered ? "(compressed) " : ""));
  }
  if (rows_ == 0) return absl::OkStatus();
  if (layout_ == Layout::kChunked) return CheckChunks(capacity);
  if (layout_ == Layout::kContiguous && !file_.Contains(address_, stored)) {
    return CorruptFile(where_,
                       absl::StrFormat("its %d bytes at offset %d lie beyond the end of the "
                                       "%d-byte file",
                                       stored, address_, file_.size()));
  }
  return absl::OkStatus();
}

// Every chunk of the shape must be stored (a missing one would read as fill
// values), and a chunk may not exceed what the stored bytes can hold.
Status Dataset::CheckChunks(uint64_t capacity) {
  const uint64_t shape[2] = {rows_, static_cast<uint64_t>(dim_)};
  const uint64_t chunk[2] = {chunk_rows_, chunk_columns_};
  uint64_t bytes = ElementSize(type_);
  for (int axis = 0; axis < rank_; ++axis) {
    if (chunk[axis] > capacity / bytes) {
      return CorruptFile(where_, absl::StrFormat("chunk size %d along axis %d does not fit a "
                                                 "shape of %d or %d stored bytes",
                                                 chunk[axis], axis, shape[axis], capacity));
    }
    bytes *= chunk[axis];
  }
  if (chunk_bytes() > kMaxChunkBytes) {
    return absl::UnimplementedError(
        absl::StrFormat("%s: has chunks of %d bytes; this reader decodes at most %d at once",
                        where_, chunk_bytes(), kMaxChunkBytes));
  }
  const uint64_t needed = CeilDiv(rows_, chunk_rows_) * column_chunks();
  if (chunks_.size() != needed) {
    return CorruptFile(where_, absl::StrFormat("stores %d of the %d chunks its shape needs",
                                               chunks_.size(), needed));
  }
  for (const Chunk& stored : chunks_) {
    if (filters_.empty() && stored.bytes != chunk_bytes()) {
      return CorruptFile(where_, absl::StrFormat("its chunk at address %d holds %d bytes, not "
                                                 "the %d of its shape",
                                                 stored.address, stored.bytes, chunk_bytes()));
    }
  }
  return absl::OkStatus();
}

Status Dataset::ReadRows(uint64_t first, uint64_t count, char* out) {
  const size_t bytes = count * row_bytes();
  Status status;
  if (layout_ == Layout::kCompact) {
    std::memcpy(out, compact_.data() + first * row_bytes(), bytes);
  } else if (layout_ == Layout::kContiguous) {
    status = file_.Read(address_ + first * row_bytes(), bytes, "the dataset's values", out);
  } else {
    for (uint64_t row = first; row < first + count && status.ok();) {
      const uint64_t band = row / chunk_rows_;
      status = ReadBand(band);
      const uint64_t in_band = row - band * chunk_rows_;
      const uint64_t n = std::min<uint64_t>(chunk_rows_ - in_band, first + count - row);
      if (status.ok()) {
        std::memcpy(out + (row - first) * row_bytes(), band_bytes_.data() + in_band * row_bytes(),
                    n * row_bytes());
      }
      row += n;
    }
  }
  if (status.ok() && big_endian_) SwapBytes(out, count * dim_, ElementSize(type_));
  return status;
}

// Decodes the chunks of one band of rows and lays their columns side by side.
Status Dataset::ReadBand(uint64_t band) {
  if (band == band_) return absl::OkStatus();
  band_ = ~uint64_t{0};
  const size_t element = ElementSize(type_);
  const uint64_t rows = std::min<uint64_t>(chunk_rows_, rows_ - band * chunk_rows_);
  band_bytes_.resize(rows * row_bytes());
  std::vector<uint8_t> decoded;
  for (uint64_t c = 0; c < column_chunks(); ++c) {
    Status status = DecodeChunk(chunks_[band * column_chunks() + c], &decoded);
    if (!status.ok()) return status;
    const uint64_t first_column = c * chunk_columns_;
    const uint64_t columns = std::min<uint64_t>(chunk_columns_, dim_ - first_column);
    for (uint64_t r = 0; r < rows; ++r) {
      std::memcpy(band_bytes_.data() + r * row_bytes() + first_column * element,
                  decoded.data() + r * chunk_columns_ * element, columns * element);
    }
  }
  band_ = band;
  return absl::OkStatus();
}

// Undoes the filters in reverse order, skipping those the chunk's mask says
// its writer skipped; the result must be exactly one chunk of the shape.
Status Dataset::DecodeChunk(const Chunk& chunk, std::vector<uint8_t>* out) {
  Status status = file_.Read(chunk.address, chunk.bytes, "a chunk", out);
  const std::string what = absl::StrCat("its chunk at address ", chunk.address);
  for (int i = static_cast<int>(filters_.size()) - 1; i >= 0 && status.ok(); --i) {
    if (i < 32 && (chunk.skipped_filters >> i & 1)) continue;
    if (filters_[i].id == kFletcher32) {
      if (out->size() < 4) return CorruptFile(where_, absl::StrCat(what, " lacks its checksum"));
      out->resize(out->size() - 4);
    } else if (filters_[i].id == kDeflate) {
      if (!Inflate(*out, chunk_bytes() + 4 * filters_.size(), &stored_)) {
        return CorruptFile(where_, absl::StrCat(what, " does not decompress to its shape"));
      }
      out->swap(stored_);
    } else {
      Unshuffle(filters_[i].element_bytes, out, &stored_);
    }
  }
  if (status.ok() && out->size() != chunk_bytes()) {
    return CorruptFile(where_, absl::StrFormat("%s decodes to %d bytes, not the %d of its shape",
                                               what, out->size(), chunk_bytes()));
  }
  return status;
}

}  // namespace turboquant::io::hdf5
