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

StatusOr<std::unique_ptr<DurableFileWriter>> DurableFileWriter::Create(FileSystemPtr fs,
                                                                       const std::string& path) {
  const std::string temp = path + ".tmp";
  std::unique_ptr<rocksdb::FSWritableFile> file;
  if (Status s = FromRocks(fs->NewWritableFile(temp, rocksdb::FileOptions(), &file, nullptr), temp);
      !s.ok()) {
    return s;
  }
  return std::unique_ptr<DurableFileWriter>(
      new DurableFileWriter(std::move(fs), path, std::move(file)));
}

DurableFileWriter::~DurableFileWriter() {
  if (file_ != nullptr) file_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  if (!committed_) RemoveFile(*fs_, path_ + ".tmp").IgnoreError();
}

Status DurableFileWriter::Append(const void* data, size_t size) {
  const rocksdb::Slice bytes(static_cast<const char*>(data), size);
  if (Status s = FromRocks(file_->Append(bytes, rocksdb::IOOptions(), nullptr), path_ + ".tmp");
      !s.ok()) {
    return s;
  }
  offset_ += size;
  return absl::OkStatus();
}

Status DurableFileWriter::PadTo(size_t alignment) {
  const size_t pad = (alignment - offset_ % alignment) % alignment;
  const std::vector<char> zeros(pad, 0);
  return Append(zeros.data(), pad);
}

Status DurableFileWriter::Commit() {
  const std::string temp = path_ + ".tmp";
  const rocksdb::IOOptions io;
  if (Status s = FromRocks(file_->Fsync(io, nullptr), temp + " (fsync)"); !s.ok()) return s;
  const rocksdb::IOStatus closed = file_->Close(io, nullptr);
  file_.reset();
  if (Status s = FromRocks(closed, temp + " (close)"); !s.ok()) return s;
  if (Status s = RenamePath(*fs_, temp, path_); !s.ok()) return s;
  committed_ = true;
  return SyncDirectory(*fs_, std::filesystem::path(path_).parent_path().string());
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
