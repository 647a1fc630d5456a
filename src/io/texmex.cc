#include "src/io/texmex.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_format.h"
#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

int32_t LoadInt32(const char* src) {
  int32_t value;
  std::memcpy(&value, src, sizeof(value));
  return value;
}

// The size is not a multiple of the record size. Usually the file is cut
// off, but if row 1 declares another dimension the real problem is that the
// rows disagree, which is the more useful message.
Status DiagnoseRaggedSize(ByteSource* source, const Layout& layout) {
  const int64_t record_bytes = static_cast<int64_t>(layout.record_bytes());
  const int64_t size = source->size();
  if (size >= record_bytes + 4) {
    std::vector<char> first_two_headers(record_bytes + 4);
    Status rewound = source->Rewind();
    if (!rewound.ok()) return rewound;
    Status read = ReadHeader(source, first_two_headers.data(), first_two_headers.size(), "row 1");
    if (!read.ok()) return read;
    const int32_t dim1 = LoadInt32(first_two_headers.data() + record_bytes);
    if (dim1 != layout.dim) {
      return CorruptFile(
          source->path(),
          absl::StrFormat("row 1 has dimension %d, but row 0 has dimension %d", dim1, layout.dim));
    }
  }
  return CorruptFile(
      source->path(),
      absl::StrFormat("truncated record: file size %d is not a multiple of the %d-byte record "
                      "(4 + %d x %d bytes); row %d is cut off after %d bytes",
                      size, record_bytes, layout.dim, ElementSize(layout.element_type),
                      size / record_bytes, size % record_bytes));
}

}  // namespace

StatusOr<Layout> ReadTexmexLayout(ByteSource* source, ElementType type) {
  char dim_bytes[4];
  Status read = ReadHeader(source, dim_bytes, sizeof(dim_bytes), "the dimension of row 0");
  if (!read.ok()) return read;
  const int32_t dim = LoadInt32(dim_bytes);
  Status dim_ok = CheckDim(source->path(), dim, "row 0");
  if (!dim_ok.ok()) return dim_ok;

  Layout layout;
  layout.element_type = type;
  layout.dim = dim;
  layout.dim_prefix = true;
  const int64_t record_bytes = static_cast<int64_t>(layout.record_bytes());
  if (source->size() % record_bytes != 0) return DiagnoseRaggedSize(source, layout);
  layout.rows = source->size() / record_bytes;
  layout.rows_checked = true;
  Status rewound = source->Rewind();
  if (!rewound.ok()) return rewound;
  return layout;
}

}  // namespace turboquant::io
