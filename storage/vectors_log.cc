#include "storage/vectors_log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "storage/checksum.h"
#include "storage/file_util.h"

namespace turboquant::storage {

class VectorsLog::Window {
 public:
  Window(const char* data, size_t size) : data_(data), size_(size) {}
  ~Window() { munmap(const_cast<char*>(data_), size_); }
  const char* data() const { return data_; }

 private:
  const char* data_;
  size_t size_;
};

std::string VectorsLog::FileName(uint64_t number) { return absl::StrFormat("%016x.vlog", number); }

uint64_t VectorsLog::ParseFileName(const std::string& name) {
  if (name.size() != 21 || name.substr(16) != ".vlog") return 0;
  uint64_t number = 0;
  for (char c : name.substr(0, 16)) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return 0;
    number = number << 4 | static_cast<uint64_t>(digit);
  }
  return number;
}

StatusOr<std::unique_ptr<VectorsLog>> VectorsLog::Create(FileSystemPtr fs, const std::string& dir,
                                                         uint64_t number, size_t window_bytes) {
  if (window_bytes < kMaxRecordBytes ||
      window_bytes % static_cast<size_t>(sysconf(_SC_PAGESIZE)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("vectors log window of %d bytes: must be a multiple of the page size and "
                        "at least %d",
                        window_bytes, kMaxRecordBytes));
  }
  const std::string path = dir + "/" + FileName(number);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  if (Status s = FromRocks(fs->NewWritableFile(path, rocksdb::FileOptions(), &file, nullptr), path);
      !s.ok()) {
    return s;
  }
  // The entry must survive a power loss before a record points into it.
  if (Status s = SyncDirectory(*fs, dir); !s.ok()) return s;
  return std::unique_ptr<VectorsLog>(new VectorsLog(path, number, std::move(file), window_bytes));
}

VectorsLog::~VectorsLog() {
  file_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  if (read_fd_ >= 0) close(read_fd_);
}

StatusOr<uint64_t> VectorsLog::Append(absl::Span<const absl::Span<const char>> parts) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!broken_.ok()) return broken_;
  const uint64_t first = size_;
  for (absl::Span<const char> part : parts) {
    const rocksdb::Slice data(part.data(), part.size());
    Status s;
    try {
      s = FromRocks(file_->Append(data, rocksdb::IOOptions(), nullptr), path_);
    } catch (...) {  // memory ran out in a file layer: the file's end is unknown too
      broken_ = absl::InternalError(path_ + ": an append to the vectors log failed part way");
      throw;
    }
    if (!s.ok()) {
      broken_ = s;
      return s;
    }
    size_ += part.size();
  }
  return first;
}

Status VectorsLog::Sync() {
  std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
  if (!file_->IsSyncThreadSafe()) lock.lock();
  return FromRocks(file_->Sync(rocksdb::IOOptions(), nullptr), path_);
}

StatusOr<std::vector<MappedRun>> VectorsLog::Map(uint64_t offset, size_t size,
                                                 size_t record_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (record_bytes == 0 || record_bytes > kMaxRecordBytes || size % record_bytes != 0 ||
      offset > size_ || size > size_ - offset) {
    return absl::InternalError(absl::StrFormat(
        "%s: cannot map %d bytes at offset %d in records of %d bytes (the log holds %d)", path_,
        size, offset, record_bytes, size_));
  }
  std::vector<MappedRun> runs;
  for (uint64_t at = offset, end = offset + size; at < end;) {
    const size_t index = at / window_bytes_;
    auto window = WindowAt(index);
    if (!window.ok()) return window.status();
    const uint64_t window_start = uint64_t{index} * window_bytes_;
    const uint64_t reach = (window_start + 2 * window_bytes_ - at) / record_bytes * record_bytes;
    const size_t take = static_cast<size_t>(std::min<uint64_t>(end - at, reach));
    runs.push_back({(*window)->data() + (at - window_start), take, *window});
    at += take;
  }
  return runs;
}

StatusOr<std::shared_ptr<const VectorsLog::Window>> VectorsLog::WindowAt(size_t index) {
  if (index < windows_.size() && windows_[index] != nullptr) return windows_[index];
  if (read_fd_ < 0) {
    read_fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (read_fd_ < 0) return ErrnoError(path_, "open for reading");
  }
  void* data = mmap(nullptr, 2 * window_bytes_, PROT_READ, MAP_SHARED, read_fd_,
                    static_cast<off_t>(index * window_bytes_));
  if (data == MAP_FAILED) return ErrnoError(path_, "mmap");
  if (windows_.size() <= index) windows_.resize(index + 1);
  windows_[index] =
      std::make_shared<const Window>(static_cast<const char*>(data), 2 * window_bytes_);
  return windows_[index];
}

VectorsLogReader::~VectorsLogReader() = default;

Status VectorsLogReader::Read(const VectorRef& ref, absl::Span<char> out) {
  const std::string path = dir_ + "/" + VectorsLog::FileName(ref.log);
  rocksdb::FSRandomAccessFile* file = nullptr;
  for (auto& [number, open] : open_) {
    if (number == ref.log) file = open.get();
  }
  if (file == nullptr) {
    std::unique_ptr<rocksdb::FSRandomAccessFile> opened;
    if (Status s = FromRocks(
            fs_->NewRandomAccessFile(path, rocksdb::FileOptions(), &opened, nullptr), path);
        !s.ok()) {
      return absl::IsNotFound(s) ? s : absl::DataLossError(s.message());
    }
    file = opened.get();
    open_.emplace_back(ref.log, std::move(opened));
  }
  rocksdb::Slice read;
  if (Status s = FromRocks(
          file->Read(ref.offset, out.size(), rocksdb::IOOptions(), &read, out.data(), nullptr),
          path);
      !s.ok()) {
    return s;
  }
  if (read.size() != out.size() || Crc32c(read.data(), read.size()) != ref.crc) {
    return absl::DataLossError(
        absl::StrFormat("%s: the %d-byte vector at offset %d is %s", path, out.size(), ref.offset,
                        read.size() != out.size() ? "cut short" : "damaged (checksum mismatch)"));
  }
  if (read.data() != out.data()) std::memcpy(out.data(), read.data(), read.size());
  return absl::OkStatus();
}

}  // namespace turboquant::storage
