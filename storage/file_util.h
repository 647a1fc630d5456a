// Durable file writes (temp -> fsync -> rename -> fsync(dir)) through the
// collection's file layer, and read-only memory maps. Every error names the
// file and the failing operation.
#ifndef TURBOQUANT_STORAGE_FILE_UTIL_H_
#define TURBOQUANT_STORAGE_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/file_system.h"
#include "turboquant/status.h"

namespace turboquant::storage {

// Writes a new file so that it either exists completely under its final name
// or not at all, even across power loss: the bytes go to `path + ".tmp"`,
// which is fsync'd, renamed over `path`, and the directory is fsync'd.
class DurableFileWriter {
 public:
  static StatusOr<std::unique_ptr<DurableFileWriter>> Create(FileSystemPtr fs,
                                                              const std::string& path);
  ~DurableFileWriter();  // removes the temp file unless Commit succeeded

  Status Append(const void* data, size_t size);
  // Appends zeros up to the next multiple of `alignment`.
  Status PadTo(size_t alignment);
  size_t offset() const { return offset_; }
  Status Commit();

 private:
  DurableFileWriter(FileSystemPtr fs, std::string path, std::unique_ptr<rocksdb::FSWritableFile> file)
      : fs_(std::move(fs)), path_(std::move(path)), file_(std::move(file)) {}
  FileSystemPtr fs_;
  std::string path_;
  std::unique_ptr<rocksdb::FSWritableFile> file_;
  size_t offset_ = 0;
  size_t written_back_ = 0;  // bytes handed to the kernel's writeback so far
  bool committed_ = false;
};

// A whole file mapped read-only. Pages are read lazily by the kernel, so
// mapping a large segment costs almost nothing until it is scanned.
class MappedFile {
 public:
  static StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

// An error naming the path, the operation and errno's message, with the
// status code that fits errno (NotFound, PermissionDenied, ...).
Status ErrnoError(const std::string& path, const char* operation);

}  // namespace turboquant::storage

#endif  // TURBOQUANT_STORAGE_FILE_UTIL_H_
