#include "src/io/bin.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

constexpr int64_t kHeaderBytes = 8;

}  // namespace

StatusOr<Layout> ReadBinLayout(ByteSource* source, ElementType type) {
  char header[kHeaderBytes];
  Status read = ReadHeader(source, header, sizeof(header), "the 8-byte header (rows, dim)");
  if (!read.ok()) return read;
  int32_t rows;
  int32_t dim;
  std::memcpy(&rows, header, sizeof(rows));
  std::memcpy(&dim, header + 4, sizeof(dim));
  if (rows < 0) {
    return CorruptFile(source->path(),
                       absl::StrFormat("row count %d in the header is negative", rows));
  }
  Status dim_ok = CheckDim(source->path(), dim, "the header");
  if (!dim_ok.ok()) return dim_ok;

  Layout layout;
  layout.element_type = type;
  layout.dim = dim;
  layout.rows = rows;
  const int64_t data_bytes = source->size() < 0 ? -1 : source->size() - kHeaderBytes;
  Status size_ok = CheckDataSize(source->path(), kHeaderBytes, data_bytes, &layout);
  if (!size_ok.ok()) return size_ok;
  return layout;
}

std::string EncodeBinHeader(int64_t rows, int dim) {
  const int32_t header[2] = {static_cast<int32_t>(rows), dim};
  return std::string(reinterpret_cast<const char*>(header), sizeof(header));
}

}  // namespace turboquant::io
