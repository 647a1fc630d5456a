#include "src/io/byte_source.h"

#include "absl/strings/str_format.h"
#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

bool HasGzipMagic(const char* bytes, size_t size) {
  return size >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

}  // namespace

StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(const std::string& path, bool allow_gzip) {
  StatusOr<std::unique_ptr<ByteSource>> plain = OpenPlainFile(path);
  if (!plain.ok()) return plain;
  char magic[2];
  StatusOr<size_t> got = (*plain)->Read(magic, sizeof(magic));
  if (!got.ok()) return got.status();
  if (!HasGzipMagic(magic, *got)) {
    Status rewound = (*plain)->Rewind();
    if (!rewound.ok()) return rewound;
    return plain;
  }
  if (!allow_gzip) {
    return InvalidFile(path,
                       "is gzip-compressed, which only IDX files may be; decompress it first");
  }
  return OpenGzipFile(path);
}

Status ReadHeader(ByteSource* source, char* dst, size_t n, absl::string_view what) {
  StatusOr<size_t> got = source->Read(dst, n);
  if (!got.ok()) return got.status();
  if (*got == n) return absl::OkStatus();
  if (source->size() == 0) return CorruptFile(source->path(), "empty file");
  return CorruptFile(
      source->path(),
      absl::StrFormat("truncated: the file ends inside %s (%d of %d bytes)", what, *got, n));
}

}  // namespace turboquant::io
