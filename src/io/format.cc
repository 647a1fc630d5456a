#include "src/io/format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

struct Extension {
  const char* suffix;
  FileFormat format;
};

// IDX names have no dot before the suffix ("train-images-idx3-ubyte").
constexpr Extension kExtensions[] = {
    {".fvecs", FileFormat::kFvecs},   {".ivecs", FileFormat::kIvecs},
    {".bvecs", FileFormat::kBvecs},   {".fbin", FileFormat::kFbin},
    {".u8bin", FileFormat::kU8bin},   {".ibin", FileFormat::kIbin},
    {".npy", FileFormat::kNpy},       {".hdf5", FileFormat::kHdf5},
    {".h5", FileFormat::kHdf5},       {"idx1-ubyte", FileFormat::kIdx},
    {"idx2-ubyte", FileFormat::kIdx}, {"idx3-ubyte", FileFormat::kIdx},
};

constexpr absl::string_view kGzipSuffix = ".gz";

std::string SupportedExtensions() {
  std::string list;
  for (const Extension& extension : kExtensions) absl::StrAppend(&list, extension.suffix, " ");
  absl::StrAppend(&list, "(IDX files may also end in .gz)");
  return list;
}

}  // namespace

StatusOr<FileFormat> FileFormatFromPath(const std::string& path) {
  std::string name = absl::AsciiStrToLower(path);
  const bool gzipped = absl::EndsWith(name, kGzipSuffix);
  if (gzipped) name.resize(name.size() - kGzipSuffix.size());
  for (const Extension& extension : kExtensions) {
    if (!absl::EndsWith(name, extension.suffix)) continue;
    if (gzipped && extension.format != FileFormat::kIdx) {
      return InvalidFile(path, absl::StrCat("gzip-compressed ", extension.suffix,
                                            " files are not supported (only IDX files may be "
                                            "gzipped); decompress it first"));
    }
    return extension.format;
  }
  return InvalidFile(
      path, absl::StrCat("unknown vector file extension; supported: ", SupportedExtensions()));
}

std::optional<ElementType> FixedElementType(FileFormat format) {
  switch (format) {
    case FileFormat::kFvecs:
    case FileFormat::kFbin:
      return ElementType::kFloat32;
    case FileFormat::kIvecs:
    case FileFormat::kIbin:
      return ElementType::kInt32;
    case FileFormat::kBvecs:
    case FileFormat::kU8bin:
    case FileFormat::kIdx:
      return ElementType::kUint8;
    case FileFormat::kNpy:
    case FileFormat::kHdf5:
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace turboquant::io
