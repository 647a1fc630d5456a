// MNIST IDX files (read only): a big-endian magic 0x0000TTNN, where TT is the
// element type (only 0x08, unsigned byte, is supported) and NN the number of
// dimensions, then NN big-endian uint32 sizes and the data. The first axis
// indexes rows and the rest are flattened, so 0x00000803 images of 28x28
// become rows of 784 and 0x00000801 labels rows of 1. Debian ships them
// gzipped; the caller's ByteSource inflates those.
#ifndef TURBOQUANT_SRC_IO_IDX_H_
#define TURBOQUANT_SRC_IO_IDX_H_

#include "src/io/byte_source.h"
#include "src/io/layout.h"

namespace turboquant::io {

// Reads the header, checks it against the file size when that is known and
// leaves `source` at the first row.
StatusOr<Layout> ReadIdxLayout(ByteSource* source);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_IDX_H_
