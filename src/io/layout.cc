#include "src/io/layout.h"

#include "absl/strings/str_format.h"
#include "src/io/file_error.h"

namespace turboquant::io {

Status CheckDim(const std::string& path, int64_t dim, absl::string_view where) {
  if (dim >= 1 && dim <= kMaxVectorDim) return absl::OkStatus();
  return CorruptFile(
      path, absl::StrFormat("dimension %d in %s is out of range 1..%d", dim, where, kMaxVectorDim));
}

Status CheckDataSize(const std::string& path, int64_t header_bytes, int64_t data_bytes,
                     Layout* layout) {
  if (data_bytes < 0) return absl::OkStatus();
  const int64_t record_bytes = static_cast<int64_t>(layout->record_bytes());
  // Dividing first keeps a huge declared row count from overflowing.
  if (layout->rows > data_bytes / record_bytes || layout->rows * record_bytes != data_bytes) {
    return CorruptFile(
        path, absl::StrFormat("header declares %d rows of %d %s values (%d bytes each), but the "
                              "file holds %d bytes after its %d-byte header",
                              layout->rows, layout->dim, ElementTypeName(layout->element_type),
                              record_bytes, data_bytes, header_bytes));
  }
  layout->rows_checked = true;
  return absl::OkStatus();
}

}  // namespace turboquant::io
