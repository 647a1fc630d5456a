#include "storage/segment_file.h"

#include <array>
#include <cstring>

#include "absl/strings/str_format.h"
#include "flatbuffers/flatbuffers.h"
#include "storage/checksum.h"
#include "src/scan/scan.h"
#include "storage/segment_generated.h"

namespace turboquant::storage {
namespace {

constexpr char kMagic[8] = {'T', 'Q', 'S', 'E', 'G', 'M', 'T', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kAlignment = 64;
constexpr size_t kPreambleBytes = sizeof(kMagic) + sizeof(uint32_t);
// A header is a few hundred bytes; anything larger is corruption, and the
// FlatBuffers 2.0.8 Verifier has no size limit of its own.
constexpr uint32_t kMaxHeaderBytes = 1 << 16;

const char* const kSectionNames[5] = {"blocks", "norms", "scalars", "ids", "vectors"};

uint64_t NumBlocks(uint64_t rows) { return (rows + 31) / 32; }

template <typename T>
absl::Span<const uint8_t> Bytes(absl::Span<const T> span) {
  return {reinterpret_cast<const uint8_t*>(span.data()), span.size() * sizeof(T)};
}

// A section's bytes, stored in one or more pieces.
using Pieces = std::vector<absl::Span<const uint8_t>>;

Pieces VectorPieces(const std::vector<absl::Span<const float>>& runs) {
  Pieces pieces;
  for (const auto& run : runs) pieces.push_back(Bytes(run));
  return pieces;
}

size_t SizeOf(const Pieces& pieces) {
  size_t size = 0;
  for (const auto& piece : pieces) size += piece.size();
  return size;
}

uint32_t Crc32cOf(const Pieces& pieces) {
  uint32_t crc = 0;
  for (const auto& piece : pieces) crc = Crc32c(piece.data(), piece.size(), crc);
  return crc;
}

// The five sections of `contents`, in file order.
std::array<Pieces, 5> Sections(const SegmentContents& contents) {
  return {Pieces{contents.blocks}, Pieces{Bytes(contents.norms)}, Pieces{Bytes(contents.scalars)},
          Pieces{Bytes(contents.ids)}, VectorPieces(contents.vectors)};
}

Status Corrupt(const std::string& path, const std::string& what) {
  return absl::DataLossError(absl::StrFormat("%s: corrupt segment file: %s", path, what));
}

}  // namespace

StatusOr<uint64_t> WriteSegmentFile(FileSystemPtr fs, const std::string& path,
                                    const IndexOptions& options,
                                    size_t code_size, const SegmentContents& contents) {
  const std::array<Pieces, 5> sections = Sections(contents);
  uint32_t crcs[5];
  size_t sizes[5];
  for (int i = 0; i < 5; ++i) {
    crcs[i] = Crc32cOf(sections[i]);
    sizes[i] = SizeOf(sections[i]);
  }
  // The header records the section offsets, so lay them out first: the header
  // length is known once it is built with placeholder offsets of equal size.
  auto build_header = [&](const uint64_t* offsets) {
    flatbuffers::FlatBufferBuilder builder;
    fb::Section fb_sections[5];
    for (int i = 0; i < 5; ++i) {
      fb_sections[i] = fb::Section(offsets[i], sizes[i], crcs[i]);
    }
    builder.Finish(fb::CreateSegmentHeader(
        builder, kFormatVersion, options.dim, options.bits, static_cast<int8_t>(options.codec),
        static_cast<int8_t>(options.metric), options.seed, contents.rows,
        static_cast<uint32_t>(code_size), contents.block_bytes, &fb_sections[0], &fb_sections[1],
        &fb_sections[2], &fb_sections[3], &fb_sections[4], internal::kScanLayoutVersion));
    return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
  };
  uint64_t offsets[5] = {};
  const size_t header_bytes = build_header(offsets).size();
  uint64_t offset = (kPreambleBytes + header_bytes + kAlignment - 1) / kAlignment * kAlignment;
  for (int i = 0; i < 5; ++i) {
    offsets[i] = offset;
    offset = (offset + sizes[i] + kAlignment - 1) / kAlignment * kAlignment;
  }
  const std::string header = build_header(offsets);

  auto writer = DurableFileWriter::Create(std::move(fs), path);
  if (!writer.ok()) return writer.status();
  const uint32_t header_length = static_cast<uint32_t>(header.size());
  Status status = (*writer)->Append(kMagic, sizeof(kMagic));
  if (status.ok()) status = (*writer)->Append(&header_length, sizeof(header_length));
  if (status.ok()) status = (*writer)->Append(header.data(), header.size());
  for (int i = 0; i < 5 && status.ok(); ++i) {
    status = (*writer)->PadTo(kAlignment);
    for (size_t p = 0; p < sections[i].size() && status.ok(); ++p) {
      status = (*writer)->Append(sections[i][p].data(), sections[i][p].size());
    }
  }
  if (status.ok()) status = (*writer)->PadTo(kAlignment);
  if (status.ok()) status = (*writer)->Commit();
  if (!status.ok()) return status;
  return static_cast<uint64_t>((*writer)->offset());
}

StatusOr<std::unique_ptr<SegmentFile>> SegmentFile::Open(const std::string& path,
                                                         const IndexOptions& options,
                                                         size_t code_size, size_t block_bytes) {
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  const uint8_t* data = (*file)->data();
  const size_t size = (*file)->size();
  if (size < kPreambleBytes || std::memcmp(data, kMagic, sizeof(kMagic)) != 0) {
    return Corrupt(path, "bad magic (not a TurboQuant segment)");
  }
  uint32_t header_length;
  std::memcpy(&header_length, data + sizeof(kMagic), sizeof(header_length));
  if (header_length > kMaxHeaderBytes || header_length > size - kPreambleBytes) {
    return Corrupt(path, absl::StrFormat("header length %d does not fit the file of %d bytes",
                                         header_length, size));
  }
  // The header copy keeps FlatBuffers' alignment requirements independent of
  // the file's layout.
  std::vector<uint8_t> header_bytes(data + kPreambleBytes, data + kPreambleBytes + header_length);
  flatbuffers::Verifier verifier(header_bytes.data(), header_bytes.size());
  if (!fb::VerifySegmentHeaderBuffer(verifier)) return Corrupt(path, "header fails verification");
  const fb::SegmentHeader* header = fb::GetSegmentHeader(header_bytes.data());
  if (header->format_version() != kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: segment format version %d is not supported (this build reads %d)", path,
        header->format_version(), kFormatVersion));
  }
  if (header->scan_layout_version() != internal::kScanLayoutVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: segment uses scan layout version %d; this build reads version %d", path,
        header->scan_layout_version(), internal::kScanLayoutVersion));
  }
  if (header->dim() != options.dim || header->bits() != options.bits ||
      header->codec() != static_cast<int8_t>(options.codec) ||
      header->metric() != static_cast<int8_t>(options.metric) || header->seed() != options.seed ||
      header->code_size() != code_size || header->block_bytes() != block_bytes) {
    return Corrupt(path, "header does not match the collection's options");
  }
  const uint64_t rows = header->rows();
  if (rows > (uint64_t{1} << 32)) return Corrupt(path, absl::StrFormat("row count %d", rows));
  const uint64_t slots = NumBlocks(rows) * 32;
  const uint64_t expected[5] = {NumBlocks(rows) * block_bytes, slots * 4, slots * 4, rows * 8,
                                options.keep_vectors ? rows * options.dim * 4 : 0};
  const fb::Section* fb_sections[5] = {header->blocks(), header->norms(), header->scalars(),
                                       header->ids(), header->vectors()};
  auto segment = std::unique_ptr<SegmentFile>(new SegmentFile());
  const uint8_t* starts[5];
  for (int i = 0; i < 5; ++i) {
    const fb::Section* s = fb_sections[i];
    if (s == nullptr || s->length() != expected[i] || s->offset() % kAlignment != 0 ||
        s->offset() > size || s->length() > size - s->offset()) {
      return Corrupt(path, absl::StrFormat("section '%s' is missing, misplaced or of the wrong "
                                           "length for %d rows (file has %d bytes)",
                                           kSectionNames[i], rows, size));
    }
    starts[i] = data + s->offset();
    segment->crc_[i] = s->crc32c();
  }
  SegmentContents& c = segment->contents_;
  c.rows = rows;
  c.block_bytes = block_bytes;
  c.blocks = {starts[0], expected[0]};
  c.norms = {reinterpret_cast<const float*>(starts[1]), slots};
  c.scalars = {reinterpret_cast<const float*>(starts[2]), slots};
  c.ids = {reinterpret_cast<const int64_t*>(starts[3]), rows};
  if (expected[4] > 0) c.vectors = {{reinterpret_cast<const float*>(starts[4]), expected[4] / 4}};
  segment->file_ = std::move(*file);
  return segment;
}

Status SegmentFile::VerifyChecksums() const {
  const std::array<Pieces, 5> sections = Sections(contents_);
  for (int i = 0; i < 5; ++i) {
    if (Crc32cOf(sections[i]) != crc_[i]) {
      return Corrupt(path(), absl::StrFormat("checksum mismatch in section '%s'", kSectionNames[i]));
    }
  }
  return absl::OkStatus();
}

}  // namespace turboquant::storage
