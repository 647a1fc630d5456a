// HDF5 files (.hdf5, .h5), as ann-benchmarks ships its datasets: one file
// holds several 2-D datasets ("train", "test", "neighbors", "distances"), so
// a reader picks one by name (VectorReaderOptions::hdf5_dataset).
//
// Supported: a 1-D (read as dim 1) or 2-D dataset of 32-bit floats, unsigned
// 8-bit integers or signed 32-bit integers in either byte order, any storage
// layout (contiguous, chunked, compressed with a filter HDF5 has). Rows are
// read in hyperslabs of about io::kChunkBytes, so files larger than memory
// stream like the other formats.
#ifndef TURBOQUANT_SRC_IO_HDF5_H_
#define TURBOQUANT_SRC_IO_HDF5_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/types/span.h"
#include "turboquant/io.h"
#include "turboquant/status.h"

namespace turboquant::io {

// Opens `options.hdf5_dataset` in the HDF5 file `path`. A missing file or
// dataset is NotFound (the message lists the datasets the file has); a
// dataset of another type or rank is InvalidArgument.
StatusOr<std::unique_ptr<VectorReader>> OpenHdf5Reader(const std::string& path,
                                                       const VectorReaderOptions& options);

// Writes `values` (rows x dim, row-major) as dataset `name` stored as `type`,
// creating the file or adding to it (an existing dataset of that name is
// replaced). Tests and tools use it to make ann-benchmarks-style files; values
// must fit `type` exactly (any float fits float32, NaN and Inf included).
Status WriteHdf5Dataset(const std::string& path, const std::string& name, ElementType type,
                        int64_t rows, int dim, absl::Span<const float> values);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_HDF5_H_
