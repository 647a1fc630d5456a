// The file layer of a collection. Every file a collection writes — RocksDB's
// catalog files and the segment files — goes through one rocksdb::FileSystem,
// so that a test can put a fault-injecting layer under all of them and
// simulate power loss (tests/power_loss_file_system.h). Reads of segment
// files are memory maps and bypass it.
#ifndef TURBOQUANT_STORAGE_FILE_SYSTEM_H_
#define TURBOQUANT_STORAGE_FILE_SYSTEM_H_

#include <memory>
#include <string>
#include <vector>

#include "rocksdb/file_system.h"
#include "turboquant/status.h"

namespace turboquant::storage {

using FileSystemPtr = std::shared_ptr<rocksdb::FileSystem>;

// `fs`, or the local file system when it is null.
FileSystemPtr OrDefault(FileSystemPtr fs);

// A Status naming `path` for a RocksDB status (DataLoss for corruption).
Status FromRocks(const rocksdb::Status& status, const std::string& path);

// fsync of a directory, which makes the entries created, renamed or removed
// in it durable.
Status SyncDirectory(rocksdb::FileSystem& fs, const std::string& dir);
Status RenamePath(rocksdb::FileSystem& fs, const std::string& from, const std::string& to);
Status CreateDirectory(rocksdb::FileSystem& fs, const std::string& dir);
// Creates `dir` unless it exists, making a new entry durable in `parent`.
Status CreateDirectoryIfMissing(rocksdb::FileSystem& fs, const std::string& dir,
                                const std::string& parent);
// Removes a file; a file that is already gone is not an error.
Status RemoveFile(rocksdb::FileSystem& fs, const std::string& path);
// The names of the entries of `dir`; none where it is missing or unreadable
// (callers use it only to find leftovers to remove).
std::vector<std::string> ChildNames(rocksdb::FileSystem& fs, const std::string& dir);
// Removes a directory tree (a half-built staging directory).
Status RemoveTree(rocksdb::FileSystem& fs, const std::string& dir);

}  // namespace turboquant::storage

#endif  // TURBOQUANT_STORAGE_FILE_SYSTEM_H_
