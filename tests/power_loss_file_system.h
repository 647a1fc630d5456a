// A rocksdb::FileSystem that simulates power loss, for tests.
//
// Put it under a collection (OpenOptions::file_system): every file of the
// collection, RocksDB's and the segment files, is then written through it.
// It counts the operations that change the disk (creating, appending to,
// syncing, renaming, linking and removing files and directories). CutPowerAt(n)
// makes operation n and every later one fail as if the machine had lost
// power just before it. LoseUnsyncedData() then makes the disk look as it
// would after the reboot:
//   - every file written through this layer is cut back to the length it had
//     when its last fsync began (Sync/Fsync; RangeSync does not count): an
//     append of another thread that ends during the fsync is not durable;
//   - entries created, linked or renamed in a directory since that
//     directory's last fsync are undone, newest first (a renamed entry goes
//     back to its old name, a file it replaced comes back), and directories
//     created since their parent's last fsync disappear with everything in
//     them.
// Since the layer itself decides what survives, its fsyncs only record what
// they would have made durable and do not wait for the disk.
// Removals are taken as durable at once: a removed file never comes back.
// That errs on the side of losing data (a real file system may resurrect a
// removed file, which recovery treats as an unnamed leftover).
#ifndef TURBOQUANT_TESTS_POWER_LOSS_FILE_SYSTEM_H_
#define TURBOQUANT_TESTS_POWER_LOSS_FILE_SYSTEM_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rocksdb/file_system.h"

namespace turboquant::testing {

class PowerLossFileSystem : public rocksdb::FileSystemWrapper {
 public:
  PowerLossFileSystem();

  // Operation number `n` (counted from 1) and all after it fail; 0 = never.
  void CutPowerAt(uint64_t n);
  // Disk-changing operations so far.
  uint64_t operations() const;
  bool power_cut() const;
  // What the operation the power was cut at would have done.
  std::string cut_operation() const;
  // Rolls the disk back to what was fsynced, and forgets all tracking (the
  // layer can then be used again, with the power back on).
  void LoseUnsyncedData();

  const char* Name() const override { return "PowerLossFileSystem"; }

  // Every operation that changes the disk is counted and can fail.
  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* file,
                                       rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& path, const std::string& old_path,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* file,
                                      rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* file,
                                    rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus NewDirectory(const std::string& path, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* directory,
                                 rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus DeleteFile(const std::string& path, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Truncate(const std::string& path, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus CreateDir(const std::string& path, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& path, const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus DeleteDir(const std::string& path, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override;

  // Called by the file and directory wrappers.
  rocksdb::IOStatus BeginOperation(const std::string& what);
  void RecordAppend(const std::string& path, uint64_t new_size);
  // The length of `path` as appended so far.
  uint64_t RecordedSize(const std::string& path);
  // A sync made its first `size` bytes durable.
  void RecordFileSync(const std::string& path, uint64_t size);
  void RecordDirectorySync(const std::string& dir);

 private:
  // A directory entry change not yet made durable by a directory fsync.
  struct EntryChange {
    enum Kind { kCreatedFile, kCreatedDir, kRenamed } kind;
    std::string path;                     // the new entry
    std::string renamed_from;             // kRenamed
    std::optional<std::string> replaced;  // kRenamed over a file: its bytes
    uint64_t sequence = 0;                // undone newest first
  };
  struct FileState {
    uint64_t size = 0;
    uint64_t synced_size = 0;
  };

  void RecordEntry(EntryChange change);
  void MoveFileState(const std::string& from, const std::string& to);
  static void UndoEntry(const EntryChange& change);

  mutable std::mutex mutex_;
  uint64_t operations_ = 0;
  uint64_t cut_at_ = 0;
  uint64_t entry_sequence_ = 0;
  std::string cut_operation_;
  std::map<std::string, FileState> files_;                    // by current path
  std::map<std::string, std::vector<EntryChange>> unsynced_;  // by directory
};

}  // namespace turboquant::testing

#endif  // TURBOQUANT_TESTS_POWER_LOSS_FILE_SYSTEM_H_
