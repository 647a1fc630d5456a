// HDF5 files (.hdf5, .h5), as ann-benchmarks ships its datasets: one file
// holds several 2-D datasets ("train", "test", "neighbors", "distances"), so
// a reader picks one by name (VectorReaderOptions::hdf5_dataset).
//
// Supported: a 1-D (read as dim 1) or 2-D dataset of 32- or 64-bit floats,
// unsigned 8-bit integers or signed 32- or 64-bit integers (ann-benchmarks
// stores neighbors as int64) in either byte order, in the
// layouts and filters hdf5_dataset.h lists (those h5py and ann-benchmarks
// write). Rows are read about io::kChunkBytes at a time, so files larger
// than memory stream like the other formats.
#ifndef TURBOQUANT_SRC_IO_HDF5_H_
#define TURBOQUANT_SRC_IO_HDF5_H_

#include <cstdint>
#include <memory>
#include <string>

#include "turboquant/io.h"
#include "turboquant/status.h"

namespace turboquant::io {

// Opens `options.hdf5_dataset` in the HDF5 file `path`. A missing file or
// dataset is NotFound (the message lists the datasets the file has); a
// dataset of another type or rank is InvalidArgument.
StatusOr<std::unique_ptr<VectorReader>> OpenHdf5Reader(const std::string& path,
                                                       const VectorReaderOptions& options);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_HDF5_H_
