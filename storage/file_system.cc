#include "storage/file_system.h"

#include <vector>

#include "absl/strings/str_format.h"

namespace turboquant::storage {

FileSystemPtr OrDefault(FileSystemPtr fs) {
  return fs != nullptr ? std::move(fs) : rocksdb::FileSystem::Default();
}

Status FromRocks(const rocksdb::Status& status, const std::string& path) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = path + ": " + status.ToString();
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNotFound() || status.IsPathNotFound()) return absl::NotFoundError(message);
  if (status.IsNoSpace()) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

Status SyncDirectory(rocksdb::FileSystem& fs, const std::string& dir) {
  std::unique_ptr<rocksdb::FSDirectory> directory;
  if (Status s = FromRocks(fs.NewDirectory(dir, rocksdb::IOOptions(), &directory, nullptr), dir);
      !s.ok()) {
    return s;
  }
  return FromRocks(directory->Fsync(rocksdb::IOOptions(), nullptr), dir + " (fsync directory)");
}

Status RenamePath(rocksdb::FileSystem& fs, const std::string& from, const std::string& to) {
  return FromRocks(fs.RenameFile(from, to, rocksdb::IOOptions(), nullptr),
                   absl::StrFormat("rename %s to %s", from, to));
}

Status CreateDirectory(rocksdb::FileSystem& fs, const std::string& dir) {
  return FromRocks(fs.CreateDir(dir, rocksdb::IOOptions(), nullptr), dir);
}

Status CreateDirectoryIfMissing(rocksdb::FileSystem& fs, const std::string& dir,
                                const std::string& parent) {
  if (fs.FileExists(dir, rocksdb::IOOptions(), nullptr).ok()) return absl::OkStatus();
  if (Status s = CreateDirectory(fs, dir); !s.ok()) return s;
  return SyncDirectory(fs, parent);
}

Status RemoveFile(rocksdb::FileSystem& fs, const std::string& path) {
  const rocksdb::IOStatus status = fs.DeleteFile(path, rocksdb::IOOptions(), nullptr);
  return status.IsNotFound() || status.IsPathNotFound() ? absl::OkStatus()
                                                        : FromRocks(status, path);
}

std::vector<std::string> ChildNames(rocksdb::FileSystem& fs, const std::string& dir) {
  std::vector<std::string> names;
  if (!fs.GetChildren(dir, rocksdb::IOOptions(), &names, nullptr).ok()) names.clear();
  return names;
}

Status RemoveTree(rocksdb::FileSystem& fs, const std::string& dir) {
  const rocksdb::IOOptions io;
  if (!fs.FileExists(dir, io, nullptr).ok()) return absl::OkStatus();
  bool is_directory = false;
  if (Status s = FromRocks(fs.IsDirectory(dir, io, &is_directory, nullptr), dir); !s.ok()) return s;
  if (!is_directory) return RemoveFile(fs, dir);
  std::vector<std::string> children;
  if (Status s = FromRocks(fs.GetChildren(dir, io, &children, nullptr), dir); !s.ok()) return s;
  for (const std::string& child : children) {
    if (Status s = RemoveTree(fs, dir + "/" + child); !s.ok()) return s;
  }
  return FromRocks(fs.DeleteDir(dir, io, nullptr), dir);
}

}  // namespace turboquant::storage
