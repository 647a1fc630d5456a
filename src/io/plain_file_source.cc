// ByteSource over a regular file with read(2): the caller reads in chunks of
// megabytes, so a stdio buffer would only add a copy.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "src/io/byte_source.h"
#include "src/io/file_error.h"
#include "src/io/open_file.h"

namespace turboquant::io {
namespace {

// Linux transfers at most about 2 GiB per read(2); stay well below.
constexpr size_t kMaxReadBytes = size_t{1} << 30;

class PlainFileSource final : public ByteSource {
 public:
  PlainFileSource(std::string path, int fd, int64_t size)
      : ByteSource(std::move(path)), fd_(fd), size_(size) {}
  ~PlainFileSource() override { ::close(fd_); }

  int64_t size() const override { return size_; }

  StatusOr<size_t> Read(char* dst, size_t n) override {
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::read(fd_, dst + done, std::min(n - done, kMaxReadBytes));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return SystemError(path(), "read", errno);
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

  Status Rewind() override {
    if (::lseek(fd_, 0, SEEK_SET) != 0) return SystemError(path(), "seek", errno);
    return absl::OkStatus();
  }

 private:
  const int fd_;
  const int64_t size_;
};

}  // namespace

StatusOr<std::unique_ptr<ByteSource>> OpenPlainFile(const std::string& path) {
  auto opened = OpenForReading(path);
  if (!opened.ok()) return opened.status();
  const int fd = opened->fd;
  const struct stat& info = opened->info;
  // Formats derive the row count from the size, which only regular files have.
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return InvalidFile(path, S_ISDIR(info.st_mode) ? "is a directory" : "is not a regular file");
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);  // a hint: larger read-ahead
  return std::unique_ptr<ByteSource>(new PlainFileSource(path, fd, info.st_size));
}

}  // namespace turboquant::io
