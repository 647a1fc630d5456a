// The vectors log of a durable collection with keep_vectors: an append-only
// file of float vectors (DIR/vectors/<number>.vlog), so that the largest
// data of an online write is written once before its segment file, never
// through RocksDB's WAL, memtable and SST files.
//
// Each Add appends its kept vectors from its own thread before it queues,
// and the group commit syncs the log once for all of them before the catalog
// batch whose write-ahead records point at them (log number, offset, CRC32C
// of the vector), so an acknowledged row's vector is durable and a record
// never points at bytes that may be lost. Appends thus go on while the leader
// of the group ahead syncs; bytes that no committed record points at (an Add
// that failed later) are never read. A seal starts a new log; once the seal's
// batch is committed no record points into the older logs, which are then
// removed (and any a crash left behind are removed by the next writer Open).
//
// Until the seal, the unsealed rows read their kept vectors from the log in
// place (Map): the page cache already holds them, so they need no copy in
// the process's own memory, which at d=768 is 3 KB a row.
#ifndef TURBOQUANT_STORAGE_VECTORS_LOG_H_
#define TURBOQUANT_STORAGE_VECTORS_LOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
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

// Bytes of a log read in place: `data` stays mapped as long as `owner`
// lives, also after the log is closed or removed.
struct MappedRun {
  const char* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> owner;
};

class VectorsLog {
 public:
  // Log bytes are mapped (Map) in windows of 2 * window_bytes that start
  // every window_bytes, so that any run of at most window_bytes lies inside
  // the window of its first byte: a few mappings per gigabyte, none per
  // write. A window may reach past the end of the file (allowed; only bytes
  // already written and synced are read, and the log never shrinks).
  static constexpr size_t kWindowBytes = size_t{64} << 20;
  static constexpr size_t kMaxRecordBytes = size_t{1} << 20;

  // Creates log `number` in `dir` (DIR/vectors) and makes its directory
  // entry durable. `window_bytes`: a multiple of the page size, at least
  // kMaxRecordBytes (tests make it small).
  static StatusOr<std::unique_ptr<VectorsLog>> Create(FileSystemPtr fs, const std::string& dir,
                                                      uint64_t number,
                                                      size_t window_bytes = kWindowBytes);
  ~VectorsLog();

  uint64_t number() const { return number_; }
  // Appends the parts back to back and returns the offset of the first; they
  // are durable once a Sync that began after this returned has returned.
  // After a failed Append the log refuses all others (the file's end is
  // unknown).
  StatusOr<uint64_t> Append(absl::Span<const absl::Span<const char>> parts);
  // Makes every Append that returned before it began durable. It runs beside
  // Appends of other threads where the file allows that
  // (FSWritableFile::IsSyncThreadSafe), and waits for them otherwise.
  Status Sync();
  // The appended bytes [offset, offset + size), mapped for reading, in runs
  // of whole records of `record_bytes` (at most kMaxRecordBytes).
  StatusOr<std::vector<MappedRun>> Map(uint64_t offset, size_t size, size_t record_bytes);

  static std::string FileName(uint64_t number);
  // The number of a log file name, or 0 when `name` is not one.
  static uint64_t ParseFileName(const std::string& name);

 private:
  class Window;
  VectorsLog(std::string path, uint64_t number, std::unique_ptr<rocksdb::FSWritableFile> file,
             size_t window_bytes)
      : path_(std::move(path)),
        number_(number),
        file_(std::move(file)),
        window_bytes_(window_bytes) {}
  StatusOr<std::shared_ptr<const Window>> WindowAt(size_t index);  // mutex_ held

  const std::string path_;
  const uint64_t number_;
  const std::unique_ptr<rocksdb::FSWritableFile> file_;
  const size_t window_bytes_;
  // Orders Appends, and guards everything below.
  std::mutex mutex_;
  uint64_t size_ = 0;
  Status broken_;     // why Appends are refused
  int read_fd_ = -1;  // opened on the first Map
  std::vector<std::shared_ptr<const Window>> windows_;
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
