// ByteSource inflating a gzip file with zlib's gzread streaming API, so a
// compressed dataset is never held in memory whole.
#include <zlib.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "src/io/byte_source.h"
#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

// gzread takes an unsigned length and returns an int count.
constexpr size_t kMaxGzreadBytes = size_t{1} << 30;
// Larger than zlib's 8 KiB default: fewer, bigger reads of the compressed file.
constexpr unsigned kGzipBufferBytes = 1u << 20;

class GzipFileSource final : public ByteSource {
 public:
  GzipFileSource(std::string path, gzFile file) : ByteSource(std::move(path)), file_(file) {}
  ~GzipFileSource() override { gzclose(file_); }

  int64_t size() const override { return -1; }

  StatusOr<size_t> Read(char* dst, size_t n) override {
    size_t done = 0;
    while (done < n) {
      const unsigned want = static_cast<unsigned>(std::min(n - done, kMaxGzreadBytes));
      const int got = gzread(file_, dst + done, want);
      if (got < 0) return StreamError();
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    // A short read is either the clean end of the stream or a cut-off file,
    // which zlib reports as Z_BUF_ERROR; only the first is the end of data.
    if (done < n) {
      int code = Z_OK;
      gzerror(file_, &code);
      if (code != Z_OK) return StreamError();
    }
    return done;
  }

  Status Rewind() override {
    if (gzrewind(file_) != 0) return StreamError();
    return absl::OkStatus();
  }

 private:
  Status StreamError() {
    int code = Z_OK;
    absl::string_view message = gzerror(file_, &code);
    if (code == Z_ERRNO) return SystemError(path(), "read", errno);
    // zlib starts its messages with the path, which ours already do.
    absl::ConsumePrefix(&message, path() + ": ");
    if (code == Z_BUF_ERROR) {
      return CorruptFile(path(), absl::StrCat("gzip data is truncated (", message, ")"));
    }
    return CorruptFile(path(), absl::StrCat("gzip data is corrupt (", message, ")"));
  }

  const gzFile file_;
};

}  // namespace

StatusOr<std::unique_ptr<ByteSource>> OpenGzipFile(const std::string& path) {
  errno = 0;
  const gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return SystemError(path, "cannot open", errno != 0 ? errno : ENOMEM);
  gzbuffer(file, kGzipBufferBytes);
  return std::unique_ptr<ByteSource>(new GzipFileSource(path, file));
}

}  // namespace turboquant::io
