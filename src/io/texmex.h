// TEXMEX .fvecs / .ivecs / .bvecs: records of an int32 dimension followed by
// that many float32 / int32 / uint8 values, with no file header. The row
// count follows from the file size and the first record's dimension.
#ifndef TURBOQUANT_SRC_IO_TEXMEX_H_
#define TURBOQUANT_SRC_IO_TEXMEX_H_

#include "src/io/byte_source.h"
#include "src/io/layout.h"

namespace turboquant::io {

// Reads the first record's dimension and leaves `source` at the first byte,
// since the dimension is part of the first record. Every later record's
// dimension is checked by the row reader as it goes.
StatusOr<Layout> ReadTexmexLayout(ByteSource* source, ElementType type);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_TEXMEX_H_
