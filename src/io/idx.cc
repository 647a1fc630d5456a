#include "src/io/idx.h"

#include "absl/strings/str_format.h"
#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

constexpr int kUnsignedByteType = 0x08;
constexpr int kMaxDims = 3;

uint32_t LoadBigEndian32(const char* src) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(src);
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
         uint32_t{bytes[3]};
}

// Validates the magic and returns the number of dimensions it declares.
StatusOr<int> DimsOfMagic(const std::string& path, uint32_t magic) {
  const int type = (magic >> 8) & 0xff;
  const int dims = magic & 0xff;
  if ((magic >> 16) != 0 || dims < 1 || dims > kMaxDims) {
    return CorruptFile(path, absl::StrFormat("bad IDX magic 0x%08x: expected 0x00000801 (labels) "
                                             "to 0x00000803 (images)",
                                             magic));
  }
  if (type != kUnsignedByteType) {
    return InvalidFile(path, absl::StrFormat("unsupported IDX element type 0x%02x in magic 0x%08x "
                                             "(only unsigned byte, 0x08, is supported)",
                                             type, magic));
  }
  return dims;
}

}  // namespace

StatusOr<Layout> ReadIdxLayout(ByteSource* source) {
  char magic_bytes[4];
  Status read = ReadHeader(source, magic_bytes, sizeof(magic_bytes), "the IDX magic");
  if (!read.ok()) return read;
  StatusOr<int> dims = DimsOfMagic(source->path(), LoadBigEndian32(magic_bytes));
  if (!dims.ok()) return dims.status();
  char sizes[4 * kMaxDims];
  read = ReadHeader(source, sizes, 4 * *dims, "the IDX dimension sizes");
  if (!read.ok()) return read;

  Layout layout;
  layout.element_type = ElementType::kUint8;
  layout.rows = LoadBigEndian32(sizes);
  int64_t dim = 1;
  for (int axis = 1; axis < *dims; ++axis) {
    dim *= LoadBigEndian32(sizes + 4 * axis);  // at most 2^20 * 2^32: no overflow
    Status dim_ok =
        CheckDim(source->path(), dim, absl::StrFormat("the IDX header (axes 1..%d)", axis));
    if (!dim_ok.ok()) return dim_ok;
  }
  layout.dim = static_cast<int>(dim);
  const int64_t header_bytes = 4 + 4 * *dims;
  const int64_t data_bytes = source->size() < 0 ? -1 : source->size() - header_bytes;
  Status size_ok = CheckDataSize(source->path(), header_bytes, data_bytes, &layout);
  if (!size_ok.ok()) return size_ok;
  return layout;
}

}  // namespace turboquant::io
