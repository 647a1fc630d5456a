// big-ann-benchmarks .fbin / .u8bin / .ibin: an int32 row count and an int32
// dimension (little endian), then the rows back to back.
#ifndef TURBOQUANT_SRC_IO_BIN_H_
#define TURBOQUANT_SRC_IO_BIN_H_

#include <cstdint>
#include <limits>
#include <string>

#include "src/io/byte_source.h"
#include "src/io/layout.h"

namespace turboquant::io {

// The row count is stored as int32.
constexpr int64_t kMaxBinRows = std::numeric_limits<int32_t>::max();

// Reads the header, checks it against the file size and leaves `source` at
// the first row.
StatusOr<Layout> ReadBinLayout(ByteSource* source, ElementType type);

// The 8-byte header; rows must be at most kMaxBinRows.
std::string EncodeBinHeader(int64_t rows, int dim);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_BIN_H_
