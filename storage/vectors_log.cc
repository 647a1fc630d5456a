#include "storage/vectors_log.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "storage/checksum.h"

namespace turboquant::storage {

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
                                                         uint64_t number) {
  const std::string path = dir + "/" + FileName(number);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  if (Status s = FromRocks(fs->NewWritableFile(path, rocksdb::FileOptions(), &file, nullptr), path);
      !s.ok()) {
    return s;
  }
  // The entry must survive a power loss before a record points into it.
  if (Status s = SyncDirectory(*fs, dir); !s.ok()) return s;
  return std::unique_ptr<VectorsLog>(new VectorsLog(path, number, std::move(file)));
}

VectorsLog::~VectorsLog() { file_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError(); }

StatusOr<std::vector<uint64_t>> VectorsLog::AppendAndSync(
    absl::Span<const absl::Span<const char>> parts) {
  std::vector<uint64_t> offsets;
  for (absl::Span<const char> part : parts) {
    offsets.push_back(size_);
    const rocksdb::Slice data(part.data(), part.size());
    if (Status s = FromRocks(file_->Append(data, rocksdb::IOOptions(), nullptr), path_); !s.ok()) {
      return s;
    }
    size_ += part.size();
  }
  if (Status s = FromRocks(file_->Sync(rocksdb::IOOptions(), nullptr), path_); !s.ok()) return s;
  return offsets;
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
