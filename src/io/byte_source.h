// A sequential source of bytes: a plain file read with read(2), or a gzip
// stream inflated with zlib. The format parsers and the row reader only ever
// ask for "the next n bytes", which both can serve, so one reader handles
// compressed and plain files alike.
#ifndef TURBOQUANT_SRC_IO_BYTE_SOURCE_H_
#define TURBOQUANT_SRC_IO_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "turboquant/status.h"

namespace turboquant::io {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  const std::string& path() const { return path_; }

  // Bytes of (decompressed) data, or -1 when unknown without inflating it all.
  virtual int64_t size() const = 0;
  // Reads n bytes into dst and returns n; fewer only at the end of the data.
  virtual StatusOr<size_t> Read(char* dst, size_t n) = 0;
  // Goes back to the first byte, so a parser can peek and start over.
  virtual Status Rewind() = 0;

 protected:
  explicit ByteSource(std::string path) : path_(std::move(path)) {}

 private:
  const std::string path_;
};

// Opens a regular file. A file starting with the gzip magic bytes is inflated
// when `allow_gzip` and rejected with a clear message otherwise (instead of a
// confusing complaint about its first bytes as a header).
StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(const std::string& path, bool allow_gzip);

// The two kinds of source, for OpenByteSource.
StatusOr<std::unique_ptr<ByteSource>> OpenPlainFile(const std::string& path);
StatusOr<std::unique_ptr<ByteSource>> OpenGzipFile(const std::string& path);

// Reads exactly n bytes of a header; a file that ends first is reported as
// empty or truncated, naming `what` was being read ("the .npy magic").
Status ReadHeader(ByteSource* source, char* dst, size_t n, absl::string_view what);

}  // namespace turboquant::io

#endif  // TURBOQUANT_SRC_IO_BYTE_SOURCE_H_
