// NumPy .npy files (format versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY",
// a version, a header length, then a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (1000, 128), }
// and the array data. Supported: dtypes '<f4', '|u1' and '<i4', C order,
// shape (rows, dim), or (rows,) read as dim 1.
#ifndef TURBOQUANT_SRC_IO_NPY_H_
#define TURBOQUANT_SRC_IO_NPY_H_

#include <cstdint>
#include <string>

#include "src/io/byte_source.h"
#include "src/io/layout.h"

namespace turboquant::io {

// Reads and validates the header and leaves `source` at the first row.
StatusOr<Layout> ReadNpyLayout(ByteSource* source);

// A version 1.0 header of a (rows, dim) array, padded to a fixed length so it
// can be rewritten in place once the final row count is known.
std::string EncodeNpyHeader(ElementType type, int64_t rows, int dim);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_NPY_H_
