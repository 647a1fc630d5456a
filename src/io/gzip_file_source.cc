// ByteSource inflating a gzip file with zlib's inflate, straight into the
// caller's buffer, so a compressed dataset is never held in memory whole.
// zlib's gzread is not used: once the compressed input is used up it reports
// a clean end of data even if the stream's 8-byte trailer (CRC and length)
// was cut off, so a truncated download passed unverified whenever the data
// was larger than gzread's buffers.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/io/byte_source.h"
#include "src/io/file_error.h"
#include "src/io/open_file.h"

namespace turboquant::io {
namespace {

// inflate takes unsigned lengths.
constexpr size_t kMaxInflateBytes = size_t{1} << 30;
// Compressed bytes per read(2): large enough for few system calls, but no
// larger than the file, as small files are common too.
constexpr off_t kMinInputBytes = 8 << 10;
constexpr off_t kMaxInputBytes = 1 << 20;
// A gzip wrapper only: the caller has seen the gzip magic.
constexpr int kGzipWindowBits = 15 + 16;

class GzipFileSource final : public ByteSource {
 public:
  GzipFileSource(std::string path, int fd, size_t input_bytes)
      : ByteSource(std::move(path)), fd_(fd), input_(input_bytes) {}
  ~GzipFileSource() override {
    inflateEnd(&stream_);
    ::close(fd_);
  }

  Status Init() {
    if (inflateInit2(&stream_, kGzipWindowBits) == Z_OK) return absl::OkStatus();
    return absl::ResourceExhaustedError(absl::StrCat(path(), ": cannot set up zlib"));
  }

  int64_t size() const override { return -1; }

  // The data ends cleanly only where a gzip member (stream) has ended, its
  // trailer verified, and the file ends too; a file may hold several members.
  StatusOr<size_t> Read(char* dst, size_t n) override {
    size_t done = 0;
    while (done < n) {
      if (stream_.avail_in == 0) {
        StatusOr<size_t> got = Refill();
        if (!got.ok()) return got.status();
        if (*got == 0 && member_ended_) break;
        if (*got == 0) {
          return CorruptFile(path(), "gzip data is truncated (the file ends inside the stream)");
        }
      }
      if (member_ended_) {
        inflateReset(&stream_);
        member_ended_ = false;
      }
      stream_.next_out = reinterpret_cast<Bytef*>(dst + done);
      stream_.avail_out = static_cast<uInt>(std::min(n - done, kMaxInflateBytes));
      const uInt room = stream_.avail_out;
      const int result = inflate(&stream_, Z_NO_FLUSH);
      done += room - stream_.avail_out;
      if (result == Z_STREAM_END) {
        member_ended_ = true;
      } else if (result != Z_OK && result != Z_BUF_ERROR) {
        return CorruptFile(path(), absl::StrCat("gzip data is corrupt (",
                                                stream_.msg != nullptr ? stream_.msg : "zlib error",
                                                ")"));
      }
    }
    return done;
  }

  Status Rewind() override {
    if (::lseek(fd_, 0, SEEK_SET) != 0) return SystemError(path(), "seek", errno);
    inflateReset(&stream_);
    stream_.avail_in = 0;
    member_ended_ = false;
    return absl::OkStatus();
  }

 private:
  // Reads the next compressed bytes; 0 at the end of the file.
  StatusOr<size_t> Refill() {
    ssize_t got;
    do {
      got = ::read(fd_, input_.data(), input_.size());
    } while (got < 0 && errno == EINTR);
    if (got < 0) return SystemError(path(), "read", errno);
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(got);
    return static_cast<size_t>(got);
  }

  const int fd_;
  std::vector<Bytef> input_;
  z_stream stream_{};
  bool member_ended_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<ByteSource>> OpenGzipFile(const std::string& path) {
  auto opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  const int fd = opened->fd;
  const struct stat& info = opened->info;
  auto source = std::make_unique<GzipFileSource>(
      path, fd, static_cast<size_t>(std::clamp(info.st_size, kMinInputBytes, kMaxInputBytes)));
  Status ready = source->Init();
  if (!ready.ok()) return ready;
  return std::unique_ptr<ByteSource>(std::move(source));
}

}  // namespace turboquant::io
