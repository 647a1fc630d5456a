#include "src/io/byte_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "src/io/file_error.h"

namespace turboquant::io {
namespace {

// Writers hand over rows in chunks of megabytes, which go straight to
// write(2); the buffer gathers small pieces such as headers.
constexpr size_t kBufferBytes = size_t{1} << 20;
// Linux transfers at most about 2 GiB per write(2); stay well below.
constexpr size_t kMaxWriteBytes = size_t{1} << 30;

}  // namespace

StatusOr<std::unique_ptr<ByteSink>> ByteSink::Create(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return SystemError(path, "cannot create", errno);
  return std::unique_ptr<ByteSink>(new ByteSink(path, fd));
}

ByteSink::ByteSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
  buffer_.reserve(kBufferBytes);
}

ByteSink::~ByteSink() {
  if (fd_ >= 0) Close().IgnoreError();
}

Status ByteSink::Append(absl::string_view bytes) {
  if (buffer_.size() + bytes.size() > kBufferBytes) {
    Status flushed = Flush();
    if (!flushed.ok()) return flushed;
  }
  if (bytes.size() >= kBufferBytes) return WriteAll(bytes);
  buffer_.append(bytes.data(), bytes.size());
  return absl::OkStatus();
}

Status ByteSink::OverwriteStart(absl::string_view bytes) {
  Status flushed = Flush();
  if (!flushed.ok()) return flushed;
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t wrote = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return SystemError(path_, "write", errno);
    done += static_cast<size_t>(wrote);
  }
  return absl::OkStatus();
}

Status ByteSink::Close() {
  if (fd_ < 0) return absl::FailedPreconditionError(path_ + ": already closed");
  Status status = Flush();
  if (::close(fd_) != 0 && status.ok()) status = SystemError(path_, "close", errno);
  fd_ = -1;
  return status;
}

Status ByteSink::Flush() {
  Status status = WriteAll(buffer_);
  buffer_.clear();
  return status;
}

Status ByteSink::WriteAll(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t wrote = ::write(fd_, bytes.data(), std::min(bytes.size(), kMaxWriteBytes));
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) return SystemError(path_, "write", errno);
    bytes.remove_prefix(static_cast<size_t>(wrote));
  }
  return absl::OkStatus();
}

}  // namespace turboquant::io
