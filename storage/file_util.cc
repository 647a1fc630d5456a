#include "storage/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

constexpr size_t kWritebackBytes = size_t{8} << 20;

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

// Every kWritebackBytes the kernel is asked to start writing back what has
// gathered (sync_file_range, not waiting), as RocksDB's bytes_per_sync does:
// gigabytes of dirty pages made Commit's fsync long, and every other fsync
// meanwhile (the group commits' vectors log) waited behind them in the file
// system's journal.
Status DurableFileWriter::Append(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  for (size_t done = 0; done < size;) {
    const size_t take = std::min(size - done, written_back_ + kWritebackBytes - offset_);
    const rocksdb::Slice piece(bytes + done, take);
    if (Status s = FromRocks(file_->Append(piece, rocksdb::IOOptions(), nullptr), path_ + ".tmp");
        !s.ok()) {
      return s;
    }
    offset_ += take;
    done += take;
    if (offset_ - written_back_ < kWritebackBytes) continue;
    const rocksdb::IOStatus started =
        file_->RangeSync(written_back_, offset_ - written_back_, rocksdb::IOOptions(), nullptr);
    if (Status s = FromRocks(started, path_ + ".tmp (sync_file_range)"); !s.ok()) return s;
    written_back_ = offset_;
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
