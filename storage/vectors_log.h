// The vectors log of a durable collection with keep_vectors: an append-only
// file of float vectors (DIR/vectors/<number>.vlog), so that the largest
// data of an online write is written once before its segment file, never
// through RocksDB's WAL, memtable and SST files.
//
// A group commit appends the kept vectors of all its Adds and syncs the log
// before the catalog batch whose write-ahead records point at them (log
// number, offset, CRC32C of the vector), so an acknowledged row's vector is
// durable and a record never points at bytes that may be lost. A seal starts
// a new log; once the seal's batch is committed no record points into the
// older logs, which are then removed (and any a crash left behind are removed
// by the next writer Open).
#ifndef TURBOQUANT_STORAGE_VECTORS_LOG_H_
#define TURBOQUANT_STORAGE_VECTORS_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "storage/file_system.h"
#include "turboquant/status.h"

namespace turboquant::storage {

// Where a kept vector of an unsealed row lives.
struct VectorRef {
  uint64_t log = 0;  // 0 = no reference
  uint64_t offset = 0;
  uint32_t crc = 0;  // CRC32C of the vector's bytes
};

class VectorsLog {
 public:
  // Creates log `number` in `dir` (DIR/vectors) and makes its directory
  // entry durable.
  static StatusOr<std::unique_ptr<VectorsLog>> Create(FileSystemPtr fs, const std::string& dir,
                                                      uint64_t number);
  ~VectorsLog();

  uint64_t number() const { return number_; }
  // Appends every part and syncs once; returns the offset of each part.
  StatusOr<std::vector<uint64_t>> AppendAndSync(absl::Span<const absl::Span<const char>> parts);

  static std::string FileName(uint64_t number);
  // The number of a log file name, or 0 when `name` is not one.
  static uint64_t ParseFileName(const std::string& name);

 private:
  VectorsLog(std::string path, uint64_t number, std::unique_ptr<rocksdb::FSWritableFile> file)
      : path_(std::move(path)), number_(number), file_(std::move(file)) {}
  std::string path_;
  uint64_t number_;
  std::unique_ptr<rocksdb::FSWritableFile> file_;
  uint64_t size_ = 0;
};

// Reads kept vectors back from the logs of `dir` during recovery, checking
// each against its CRC32C.
class VectorsLogReader {
 public:
  VectorsLogReader(FileSystemPtr fs, std::string dir) : fs_(std::move(fs)), dir_(std::move(dir)) {}
  ~VectorsLogReader();
  // Reads `out.size()` bytes at `ref`; DataLoss when they are missing or do
  // not match the checksum.
  Status Read(const VectorRef& ref, absl::Span<char> out);

 private:
  FileSystemPtr fs_;
  std::string dir_;
  std::vector<std::pair<uint64_t, std::unique_ptr<rocksdb::FSRandomAccessFile>>> open_;
};

}  // namespace turboquant::storage

#endif  // TURBOQUANT_STORAGE_VECTORS_LOG_H_
