#include "storage/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_format.h"

namespace turboquant::storage {

Status ErrnoError(const std::string& path, const char* operation) {
  const std::string message =
      absl::StrFormat("%s: %s failed: %s", path, operation, std::strerror(errno));
  switch (errno) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError(dir, "open directory");
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : ErrnoError(dir, "fsync directory");
}

StatusOr<std::unique_ptr<DurableFileWriter>> DurableFileWriter::Create(const std::string& path) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(temp, "create");
  return std::unique_ptr<DurableFileWriter>(new DurableFileWriter(path, fd));
}

DurableFileWriter::~DurableFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink((path_ + ".tmp").c_str());
}

Status DurableFileWriter::Append(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd_, p, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(path_ + ".tmp", "write");
    }
    p += written;
    size -= static_cast<size_t>(written);
    offset_ += static_cast<size_t>(written);
  }
  return absl::OkStatus();
}

Status DurableFileWriter::PadTo(size_t alignment) {
  const size_t pad = (alignment - offset_ % alignment) % alignment;
  const std::vector<char> zeros(pad, 0);
  return Append(zeros.data(), pad);
}

Status DurableFileWriter::Commit() {
  const std::string temp = path_ + ".tmp";
  if (::fsync(fd_) != 0) return ErrnoError(temp, "fsync");
  if (::close(fd_) != 0) {
    fd_ = -1;
    return ErrnoError(temp, "close");
  }
  fd_ = -1;
  if (::rename(temp.c_str(), path_.c_str()) != 0) return ErrnoError(path_, "rename");
  committed_ = true;
  return SyncDirectory(std::filesystem::path(path_).parent_path().string());
}

StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(path, "open");
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const Status status = ErrnoError(path, "stat");
    ::close(fd);
    return status;
  }
  const size_t size = static_cast<size_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    return absl::DataLossError(absl::StrFormat("%s: file is empty", path));
  }
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file open
  if (data == MAP_FAILED) return ErrnoError(path, "mmap");
  return std::unique_ptr<MappedFile>(new MappedFile(path, static_cast<const uint8_t*>(data), size));
}

MappedFile::~MappedFile() { ::munmap(const_cast<uint8_t*>(data_), size_); }

}  // namespace turboquant::storage
