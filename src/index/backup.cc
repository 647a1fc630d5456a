// Backup of a durable collection from one snapshot, while writers go on.
//
// The copy is a new collection built beside the target under a temporary
// name: the immutable segment files are hard-linked (or copied from their
// mapping when linking fails: another file system, or a file the writer
// already replaced), and a new catalog is written from the snapshot's
// tombstones and unsealed rows. Everything is fsynced before the directory is
// renamed into place, so a crash leaves the whole backup or none of it.
#include <algorithm>
#include <filesystem>

#include "src/index/index_impl.h"
#include "storage/file_util.h"

namespace turboquant {

using internal::Snapshot;
using internal::SnapshotSegment;
namespace fs = std::filesystem;

namespace {

// Catalog batches of a backup stay about this large.
constexpr size_t kBackupBatchBytes = size_t{16} << 20;

Status LinkOrCopySegment(const storage::FileSystemPtr& fs, const storage::SegmentFile& file,
                         const std::string& to) {
  if (fs->LinkFile(file.path(), to, rocksdb::IOOptions(), nullptr).ok()) return absl::OkStatus();
  auto writer = storage::DurableFileWriter::Create(fs, to);
  if (!writer.ok()) return writer.status();
  if (Status s = (*writer)->Append(file.bytes().data(), file.bytes().size()); !s.ok()) return s;
  return (*writer)->Commit();
}

// Writes `batch` once it is large, or when `last`.
Status WriteWhenFull(storage::Catalog& catalog, rocksdb::WriteBatch* batch, bool last) {
  if (!last && batch->GetDataSize() < kBackupBatchBytes) return absl::OkStatus();
  Status status = catalog.Write(batch);
  batch->Clear();
  return status;
}

}  // namespace

Status TurboQuantIndex::Impl::Backup(const std::string& dir) const {
  if (catalog_ == nullptr)
    return absl::FailedPreconditionError("an in-memory index has no files to back up");
  if (dir.empty()) return absl::InvalidArgumentError("the backup directory path is empty");
  const std::shared_ptr<const Snapshot> snapshot = Current();
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return absl::AlreadyExistsError(
        absl::StrFormat("%s: backup target exists and is not empty", dir));
  }
  fs::path target = fs::absolute(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "dir/"
  const std::string staging = target.string() + ".creating";
  if (Status s = storage::RemoveTree(*fs_, staging); !s.ok()) return s;
  if (Status s = storage::CreateDirectory(*fs_, staging); !s.ok()) return s;
  if (Status s = storage::CreateDirectory(*fs_, staging + "/segments"); !s.ok()) return s;
  Status status = WriteBackup(*snapshot, staging);
  if (status.ok()) status = storage::SyncDirectory(*fs_, staging);
  if (status.ok() && fs::exists(target, error)) status = storage::RemoveTree(*fs_, target.string());
  if (status.ok()) status = storage::RenamePath(*fs_, staging, target.string());
  if (status.ok()) return storage::SyncDirectory(*fs_, target.parent_path().string());
  storage::RemoveTree(*fs_, staging).IgnoreError();
  return status;
}

Status TurboQuantIndex::Impl::WriteBackup(const Snapshot& snapshot,
                                          const std::string& staging) const {
  for (const SnapshotSegment& s : snapshot.segments) {
    if (!s.segment->has_file()) continue;
    const std::string to =
        staging + "/segments/" + internal::SegmentFileName(s.segment->segment_id());
    if (Status status = LinkOrCopySegment(fs_, *s.segment->file(), to); !status.ok()) return status;
  }
  if (Status s = storage::SyncDirectory(*fs_, staging + "/segments"); !s.ok()) return s;
  auto catalog = storage::Catalog::Create(staging + "/catalog", options_, fs_);
  if (!catalog.ok()) return catalog.status();
  uint64_t next_segment = 1, next_sequence = 1;
  rocksdb::WriteBatch batch;
  std::vector<uint8_t> code(codec_->code_size());
  for (const SnapshotSegment& s : snapshot.segments) {
    const internal::Segment& segment = *s.segment;
    if (segment.has_file()) {
      next_segment = std::max(next_segment, segment.segment_id() + 1);
      batch.Put(storage::Catalog::SegmentKey(segment.segment_id()),
                storage::Catalog::EncodeSegment(
                    {segment.segment_id(), segment.rows(), segment.file()->file_bytes()}));
    }
    for (size_t row = 0; row < segment.rows(); ++row) {
      const bool live = internal::IsLive(s.live, row);
      if (segment.has_file() && !live) {
        batch.Put(storage::Catalog::TombstoneKey(segment.segment_id(), row), "");
      } else if (segment.unsealed() && live) {
        storage::PendingRow pending;
        pending.id = segment.id(row);
        segment.layout().ExtractCode(row, code.data());
        pending.code.assign(reinterpret_cast<const char*>(code.data()), code.size());
        if (const float* v = segment.vector(row)) {
          pending.vector.assign(reinterpret_cast<const char*>(v), options_.dim * sizeof(float));
        }
        next_sequence = std::max(next_sequence, segment.sequence(row) + 1);
        batch.Put(storage::Catalog::PendingKey(segment.sequence(row)),
                  storage::Catalog::EncodePending(pending));
      }
      if (Status st = WriteWhenFull(**catalog, &batch, false); !st.ok()) return st;
    }
  }
  batch.Put(storage::Catalog::kNextSegmentKey, storage::Catalog::EncodeCounter(next_segment));
  batch.Put(storage::Catalog::kNextSequenceKey, storage::Catalog::EncodeCounter(next_sequence));
  return WriteWhenFull(**catalog, &batch, true);
}

}  // namespace turboquant
