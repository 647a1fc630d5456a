// Which file format a path names. The extension decides, as it does for the
// datasets' own tooling, because TEXMEX files have no magic number to sniff.
#ifndef TURBOQUANT_SRC_IO_FORMAT_H_
#define TURBOQUANT_SRC_IO_FORMAT_H_

#include <optional>
#include <string>

#include "turboquant/io.h"
#include "turboquant/status.h"

namespace turboquant::io {

enum class FileFormat { kFvecs, kIvecs, kBvecs, kFbin, kU8bin, kIbin, kNpy, kIdx, kHdf5 };

// Case-insensitive; ".gz" may follow only an IDX name. An unknown extension
// gets an error listing the supported ones.
StatusOr<FileFormat> FileFormatFromPath(const std::string& path);

// The element type every file of `format` holds; none for .npy and HDF5,
// whose headers say.
std::optional<ElementType> FixedElementType(FileFormat format);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_FORMAT_H_
