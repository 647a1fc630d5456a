#include "tests/power_loss_file_system.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace turboquant::testing {
namespace {

namespace fs = std::filesystem;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

std::string Normal(const std::string& path) {
  std::string normal = fs::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string Parent(const std::string& path) {
  return fs::path(Normal(path)).parent_path().string();
}

bool HasPrefix(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string Rebase(const std::string& path, const std::string& from, const std::string& to) {
  return to + path.substr(from.size());
}

class TrackedFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedFile(PowerLossFileSystem* fs, std::string path, uint64_t size,
              std::unique_ptr<rocksdb::FSWritableFile> file)
      : FSWritableFileOwnerWrapper(std::move(file)), fs_(fs), path_(std::move(path)), size_(size) {}

  IOStatus Append(const rocksdb::Slice& data, const IOOptions& options,
                  IODebugContext* debug) override {
    return Grow(size_ + data.size(), [&] { return target()->Append(data, options, debug); });
  }
  IOStatus Append(const rocksdb::Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* debug) override {
    return Grow(size_ + data.size(), [&] { return target()->Append(data, options, info, debug); });
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* debug) override {
    return Grow(std::max(size_, offset + data.size()),
                [&] { return target()->PositionedAppend(data, offset, options, debug); });
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* debug) override {
    return Grow(std::max(size_, offset + data.size()),
                [&] { return target()->PositionedAppend(data, offset, options, info, debug); });
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* debug) override {
    if (IOStatus s = fs_->BeginOperation("truncate " + path_); !s.ok()) return s;
    IOStatus s = target()->Truncate(size, options, debug);
    if (s.ok()) fs_->RecordAppend(path_, size_ = size);
    return s;
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* debug) override {
    return SyncAs("sync ", options, debug);
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* debug) override {
    return SyncAs("fsync ", options, debug);
  }
  IOStatus RangeSync(uint64_t offset, uint64_t bytes, const IOOptions& options,
                     IODebugContext* debug) override {
    if (IOStatus s = fs_->BeginOperation("range sync " + path_); !s.ok()) return s;
    return target()->RangeSync(offset, bytes, options, debug);  // not a full sync
  }
  IOStatus Flush(const IOOptions& options, IODebugContext* debug) override {
    if (fs_->power_cut()) return Cut();
    return target()->Flush(options, debug);
  }

 private:
  static IOStatus Cut() { return IOStatus::IOError("simulated power loss"); }
  template <typename Write>
  IOStatus Grow(uint64_t new_size, Write write) {
    if (IOStatus s = fs_->BeginOperation("append to " + path_); !s.ok()) return s;
    IOStatus status = write();
    if (status.ok()) fs_->RecordAppend(path_, size_ = new_size);
    return status;
  }
  // Makes durable what was appended when the sync began, not an append of
  // another thread that completes meanwhile.
  IOStatus SyncAs(const std::string& what, const IOOptions& options, IODebugContext* debug) {
    if (!fs_->BeginOperation(what + path_).ok()) return Cut();
    const uint64_t durable = fs_->RecordedSize(path_);
    IOStatus status = target()->Flush(options, debug);
    if (status.ok()) fs_->RecordFileSync(path_, durable);
    return status;
  }

  PowerLossFileSystem* const fs_;
  const std::string path_;
  uint64_t size_;
};

class TrackedDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  TrackedDirectory(PowerLossFileSystem* fs, std::string path,
                   std::unique_ptr<rocksdb::FSDirectory> directory)
      : FSDirectoryWrapper(std::move(directory)), fs_(fs), path_(std::move(path)) {}

  IOStatus Fsync(const IOOptions&, IODebugContext*) override { return FsyncDirectory(); }
  IOStatus FsyncWithDirOptions(const IOOptions&, IODebugContext*,
                               const rocksdb::DirFsyncOptions&) override {
    return FsyncDirectory();
  }

 private:
  IOStatus FsyncDirectory() {
    if (IOStatus s = fs_->BeginOperation("fsync directory " + path_); !s.ok()) return s;
    fs_->RecordDirectorySync(path_);
    return IOStatus::OK();
  }

  PowerLossFileSystem* const fs_;
  const std::string path_;
};

}  // namespace

PowerLossFileSystem::PowerLossFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

void PowerLossFileSystem::CutPowerAt(uint64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  cut_at_ = n;
}

std::string PowerLossFileSystem::cut_operation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cut_operation_;
}

uint64_t PowerLossFileSystem::operations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return operations_;
}

bool PowerLossFileSystem::power_cut() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cut_at_ != 0 && operations_ >= cut_at_;
}

IOStatus PowerLossFileSystem::BeginOperation(const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cut_at_ != 0 && operations_ + 1 >= cut_at_) {
    if (operations_ + 1 == cut_at_) cut_operation_ = what;
    operations_ = std::max(operations_, cut_at_);
    return IOStatus::IOError("simulated power loss");
  }
  ++operations_;
  return IOStatus::OK();
}

void PowerLossFileSystem::RecordAppend(const std::string& path, uint64_t new_size) {
  std::lock_guard<std::mutex> lock(mutex_);
  FileState& state = files_[Normal(path)];
  state.size = new_size;
  state.synced_size = std::min(state.synced_size, new_size);
}

uint64_t PowerLossFileSystem::RecordedSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  return files_[Normal(path)].size;
}

void PowerLossFileSystem::RecordFileSync(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  FileState& state = files_[Normal(path)];
  state.synced_size = std::max(state.synced_size, std::min(size, state.size));
}

void PowerLossFileSystem::RecordDirectorySync(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  unsynced_.erase(Normal(dir));
}

void PowerLossFileSystem::RecordEntry(EntryChange change) {
  std::lock_guard<std::mutex> lock(mutex_);
  change.sequence = ++entry_sequence_;
  change.path = Normal(change.path);
  if (!change.renamed_from.empty()) change.renamed_from = Normal(change.renamed_from);
  unsynced_[Parent(change.path)].push_back(std::move(change));
}

void PowerLossFileSystem::MoveFileState(const std::string& from_path, const std::string& to_path) {
  const std::string from = Normal(from_path), to = Normal(to_path);
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, FileState> files;
  for (auto& [path, state] : files_) {
    files[HasPrefix(path, from) ? Rebase(path, from, to) : path] = state;
  }
  files_ = std::move(files);
  // A renamed directory takes the unsynced entries inside it along; the
  // entry of the renamed path itself keeps its old name, which is where
  // undoing the rename puts it back.
  auto inside = [&](const std::string& path) { return path != from && HasPrefix(path, from); };
  std::map<std::string, std::vector<EntryChange>> unsynced;
  for (auto& [dir, changes] : unsynced_) {
    for (EntryChange& change : changes) {
      if (inside(change.path)) change.path = Rebase(change.path, from, to);
      if (inside(change.renamed_from)) change.renamed_from = Rebase(change.renamed_from, from, to);
    }
    auto& into = unsynced[HasPrefix(dir, from) ? Rebase(dir, from, to) : dir];
    into.insert(into.end(), changes.begin(), changes.end());
  }
  unsynced_ = std::move(unsynced);
}

IOStatus PowerLossFileSystem::NewWritableFile(const std::string& path,
                                              const rocksdb::FileOptions& options,
                                              std::unique_ptr<rocksdb::FSWritableFile>* file,
                                              IODebugContext* debug) {
  if (IOStatus s = BeginOperation("create " + path); !s.ok()) return s;
  const bool existed = target()->FileExists(path, IOOptions(), debug).ok();
  std::unique_ptr<rocksdb::FSWritableFile> inner;
  IOStatus s = target()->NewWritableFile(path, options, &inner, debug);
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    files_[Normal(path)] = FileState();  // truncated: nothing of it is synced
  }
  if (!existed) RecordEntry({EntryChange::kCreatedFile, path, "", std::nullopt});
  *file = std::make_unique<TrackedFile>(this, path, 0, std::move(inner));
  return s;
}

IOStatus PowerLossFileSystem::ReopenWritableFile(const std::string& path,
                                                 const rocksdb::FileOptions& options,
                                                 std::unique_ptr<rocksdb::FSWritableFile>* file,
                                                 IODebugContext* debug) {
  if (IOStatus s = BeginOperation("reopen " + path); !s.ok()) return s;
  const bool existed = target()->FileExists(path, IOOptions(), debug).ok();
  std::unique_ptr<rocksdb::FSWritableFile> inner;
  IOStatus s = target()->ReopenWritableFile(path, options, &inner, debug);
  if (!s.ok()) return s;
  uint64_t size = 0;
  target()->GetFileSize(path, IOOptions(), &size, debug).PermitUncheckedError();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A file this layer has not seen was on disk before it: durable.
    files_.try_emplace(Normal(path), FileState{size, size});
  }
  if (!existed) RecordEntry({EntryChange::kCreatedFile, path, "", std::nullopt});
  *file = std::make_unique<TrackedFile>(this, path, size, std::move(inner));
  return s;
}

IOStatus PowerLossFileSystem::ReuseWritableFile(const std::string&, const std::string&,
                                                const rocksdb::FileOptions&,
                                                std::unique_ptr<rocksdb::FSWritableFile>*,
                                                IODebugContext*) {
  return IOStatus::NotSupported("PowerLossFileSystem does not recycle files");
}

IOStatus PowerLossFileSystem::NewRandomRWFile(const std::string&, const rocksdb::FileOptions&,
                                              std::unique_ptr<rocksdb::FSRandomRWFile>*,
                                              IODebugContext*) {
  return IOStatus::NotSupported("PowerLossFileSystem tracks appends only");
}

IOStatus PowerLossFileSystem::NewDirectory(const std::string& path, const IOOptions& options,
                                           std::unique_ptr<rocksdb::FSDirectory>* directory,
                                           IODebugContext* debug) {
  std::unique_ptr<rocksdb::FSDirectory> inner;
  IOStatus s = target()->NewDirectory(path, options, &inner, debug);
  if (s.ok()) *directory = std::make_unique<TrackedDirectory>(this, path, std::move(inner));
  return s;
}

IOStatus PowerLossFileSystem::DeleteFile(const std::string& path, const IOOptions& options,
                                         IODebugContext* debug) {
  if (IOStatus s = BeginOperation("remove " + path); !s.ok()) return s;
  IOStatus s = target()->DeleteFile(path, options, debug);
  if (s.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    files_.erase(Normal(path));
  }
  return s;
}

IOStatus PowerLossFileSystem::Truncate(const std::string& path, size_t size,
                                       const IOOptions& options, IODebugContext* debug) {
  if (IOStatus s = BeginOperation("truncate " + path); !s.ok()) return s;
  IOStatus s = target()->Truncate(path, size, options, debug);
  if (s.ok()) RecordAppend(path, size);
  return s;
}

IOStatus PowerLossFileSystem::CreateDir(const std::string& path, const IOOptions& options,
                                        IODebugContext* debug) {
  if (IOStatus s = BeginOperation("create directory " + path); !s.ok()) return s;
  IOStatus s = target()->CreateDir(path, options, debug);
  if (s.ok()) RecordEntry({EntryChange::kCreatedDir, path, "", std::nullopt});
  return s;
}

IOStatus PowerLossFileSystem::CreateDirIfMissing(const std::string& path, const IOOptions& options,
                                                 IODebugContext* debug) {
  if (target()->FileExists(path, options, debug).ok()) return IOStatus::OK();
  return CreateDir(path, options, debug);
}

IOStatus PowerLossFileSystem::DeleteDir(const std::string& path, const IOOptions& options,
                                        IODebugContext* debug) {
  if (IOStatus s = BeginOperation("remove directory " + path); !s.ok()) return s;
  return target()->DeleteDir(path, options, debug);
}

IOStatus PowerLossFileSystem::RenameFile(const std::string& from, const std::string& to,
                                         const IOOptions& options, IODebugContext* debug) {
  if (IOStatus s = BeginOperation("rename " + from + " to " + to); !s.ok()) return s;
  std::optional<std::string> replaced;
  if (fs::is_regular_file(to)) {
    std::ifstream in(to, std::ios::binary);
    replaced = std::string(std::istreambuf_iterator<char>(in), {});
  }
  IOStatus s = target()->RenameFile(from, to, options, debug);
  if (!s.ok()) return s;
  MoveFileState(from, to);
  RecordEntry({EntryChange::kRenamed, to, from, std::move(replaced)});
  return s;
}

IOStatus PowerLossFileSystem::LinkFile(const std::string& from, const std::string& to,
                                       const IOOptions& options, IODebugContext* debug) {
  if (IOStatus s = BeginOperation("link " + from + " to " + to); !s.ok()) return s;
  IOStatus s = target()->LinkFile(from, to, options, debug);
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = files_.find(Normal(from)); it != files_.end()) files_[Normal(to)] = it->second;
  }
  RecordEntry({EntryChange::kCreatedFile, to, "", std::nullopt});
  return s;
}

void PowerLossFileSystem::UndoEntry(const EntryChange& change) {
  std::error_code ignored;
  switch (change.kind) {
    case EntryChange::kCreatedFile:
      fs::remove(change.path, ignored);
      return;
    case EntryChange::kCreatedDir:
      fs::remove_all(change.path, ignored);
      return;
    case EntryChange::kRenamed:
      if (!fs::exists(change.path, ignored)) return;
      fs::rename(change.path, change.renamed_from, ignored);
      if (change.replaced.has_value()) {
        std::ofstream(change.path, std::ios::binary | std::ios::trunc) << *change.replaced;
      }
      return;
  }
}

void PowerLossFileSystem::LoseUnsyncedData() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code ignored;
  for (const auto& [path, state] : files_) {
    if (fs::is_regular_file(path, ignored) && fs::file_size(path, ignored) > state.synced_size) {
      fs::resize_file(path, state.synced_size, ignored);
    }
  }
  std::vector<const EntryChange*> changes;
  for (const auto& [dir, list] : unsynced_) {
    for (const EntryChange& change : list) changes.push_back(&change);
  }
  std::sort(changes.begin(), changes.end(),
            [](const EntryChange* a, const EntryChange* b) { return a->sequence > b->sequence; });
  for (const EntryChange* change : changes) UndoEntry(*change);
  files_.clear();
  unsynced_.clear();
  operations_ = 0;
  cut_at_ = 0;
}

}  // namespace turboquant::testing
