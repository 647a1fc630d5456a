// Writes ann-benchmarks-style HDF5 files for tests, through the HDF5 C
// library (Debian libhdf5-dev): files made by the reference implementation
// check that the library's own reader (src/io/hdf5.h) reads what libhdf5
// writes. The library itself does not link libhdf5.
#ifndef TURBOQUANT_TESTS_HDF5_WRITER_H_
#define TURBOQUANT_TESTS_HDF5_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "turboquant/io.h"
#include "turboquant/status.h"

namespace turboquant::testing {

// Writes `values` (rows x dim, row-major) as dataset `name` stored as `type`,
// creating the file or adding to it (an existing dataset of that name is
// replaced). Values must fit `type` exactly (any float fits float32, NaN and
// Inf included).
Status WriteHdf5Dataset(const std::string& path, const std::string& name, ElementType type,
                        int64_t rows, int dim, absl::Span<const float> values);

}  // namespace turboquant::testing

#endif  // TURBOQUANT_TESTS_HDF5_WRITER_H_
