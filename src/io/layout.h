// Where the rows of a vector file are and how each is stored. Every supported
// format is a header (possibly empty) followed by `rows` records of `dim`
// stored values; TEXMEX repeats the dimension as an int32 before each row.
// Format parsers produce a Layout and one row reader serves them all.
#ifndef TURBOQUANT_SRC_IO_LAYOUT_H_
#define TURBOQUANT_SRC_IO_LAYOUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "src/io/element.h"
#include "turboquant/io.h"
#include "turboquant/status.h"

namespace turboquant::io {

// Rows are read and written in chunks of about this many bytes: large enough
// for full disk bandwidth, small enough that the scratch buffer is no burden.
constexpr size_t kChunkBytes = size_t{8} << 20;
// The first chunk of a stream whose size is unknown (gzip), which may hold far
// fewer rows than its header declares; later chunks double up to kChunkBytes.
constexpr size_t kFirstUncheckedChunkBytes = size_t{64} << 10;

struct Layout {
  ElementType element_type = ElementType::kFloat32;
  int dim = 0;
  int64_t rows = 0;
  bool dim_prefix = false;  // TEXMEX: each record starts with int32 dim
  // True when `rows` was checked against the file size; a gzip stream's size
  // is unknown, so its rows are only checked as they arrive.
  bool rows_checked = false;

  size_t record_bytes() const {
    return (dim_prefix ? sizeof(int32_t) : 0) +
           static_cast<size_t>(dim) * ElementSize(element_type);
  }
  // Whole records per chunk; at least one, however large a record is.
  int64_t chunk_rows() const {
    return std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / record_bytes()));
  }
};

// Rejects a dimension outside 1..kMaxVectorDim; `where` says where it was
// found ("the header", "row 0").
Status CheckDim(const std::string& path, int64_t dim, absl::string_view where);

// Sets layout->rows_checked after checking that `data_bytes` (the file size
// less a header of `header_bytes`) holds exactly layout->rows records; does
// nothing when the size is unknown (data_bytes < 0).
Status CheckDataSize(const std::string& path, int64_t header_bytes, int64_t data_bytes,
                     Layout* layout);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_LAYOUT_H_
