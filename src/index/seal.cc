// Sealing unsealed rows into segment files, and compaction: both are a
// Rewrite of a run of segments into new sealed ones.
//
// Order of a Rewrite (ARCHITECTURE.md section 6): the run's live rows are
// merged and every new file is written, fsynced, renamed, opened and
// validated without holding write_mutex_, so writers go on meanwhile; only
// then does one catalog batch name the new files and drop the old ones,
// under write_mutex_. A failure before that batch changes nothing (the
// unnamed files are removed); a failed batch is the sticky write error; after
// the batch nothing can fail but reclaiming space.
#include "src/index/index_impl.h"

namespace turboquant {

using internal::kWriteAheadDeletesPerBatch;
using internal::Segment;
using internal::SegmentBuilder;
using internal::SegmentPath;
using internal::Snapshot;
using internal::SnapshotSegment;

StatusOr<std::shared_ptr<const Segment>> TurboQuantIndex::Impl::OpenSealed(uint64_t segment_id,
                                                                           uint64_t rows) const {
  const internal::ScanLayout shape(*codec_);
  auto file = storage::SegmentFile::Open(SegmentPath(dir_, segment_id), options_,
                                         codec_->code_size(), shape.block_bytes());
  if (!file.ok()) return file.status();
  if ((*file)->contents().rows != rows) {
    return absl::DataLossError(absl::StrFormat("%s: holds %d rows, the catalog says %d",
                                               (*file)->path(), (*file)->contents().rows, rows));
  }
  return std::make_shared<const Segment>(segment_id, *codec_, std::move(*file));
}

StatusOr<std::vector<std::shared_ptr<const Segment>>> TurboQuantIndex::Impl::SealToFiles(
    std::vector<std::shared_ptr<const Segment>> merged, uint64_t first_id,
    rocksdb::WriteBatch* batch) {
  std::vector<std::shared_ptr<const Segment>> sealed;
  Status status;
  for (size_t i = 0; i < merged.size() && status.ok(); ++i) {
    const uint64_t segment_id = first_id + i;
    const uint64_t rows = merged[i]->rows();
    auto bytes = storage::WriteSegmentFile(fs_, SegmentPath(dir_, segment_id), options_,
                                           codec_->code_size(), merged[i]->Contents());
    if (!bytes.ok()) {
      status = bytes.status();
      break;
    }
    auto segment = OpenSealed(segment_id, rows);
    if (!segment.ok()) {
      storage::RemoveFile(*fs_, SegmentPath(dir_, segment_id)).IgnoreError();
      status = segment.status();
      break;
    }
    batch->Put(storage::Catalog::SegmentKey(segment_id),
               storage::Catalog::EncodeSegment({segment_id, rows, *bytes}));
    sealed.push_back(std::move(*segment));
  }
  if (!status.ok()) {
    for (const auto& segment : sealed) segment->MarkObsolete(fs_);
    return status;
  }
  return sealed;
}

// Point deletes only: RocksDB 7.8 secondary instances (read-only opens) were
// seen to keep keys that a DeleteRange had removed (read_only_test).
void TurboQuantIndex::Impl::DropFromCatalog(const internal::SnapshotSegment& old,
                                            rocksdb::WriteBatch* batch,
                                            std::vector<uint64_t>* sealed) const {
  const Segment& segment = *old.segment;
  if (segment.has_file()) batch->Delete(storage::Catalog::SegmentKey(segment.segment_id()));
  for (size_t row = 0; row < segment.rows(); ++row) {
    const bool live = internal::IsLive(old.live, row);
    if (segment.has_file() && !live) {
      batch->Delete(storage::Catalog::TombstoneKey(segment.segment_id(), row));
    } else if (segment.unsealed() && live) {
      sealed->push_back(segment.sequence(row));
    }
  }
}

// Outside write_mutex_ and not synced: the watermark already made these
// records obsolete, nothing else writes their keys, and deletes a crash
// loses are redone by the next Open. Group commits meanwhile wait only for
// the catalog's own ordering of writes, never for a disk sync of these.
Status TurboQuantIndex::Impl::DeleteSealedWriteAhead(const std::vector<uint64_t>& sequences) {
  for (size_t begin = 0; begin < sequences.size(); begin += kWriteAheadDeletesPerBatch) {
    const size_t end = std::min(sequences.size(), begin + kWriteAheadDeletesPerBatch);
    rocksdb::WriteBatch batch;
    for (size_t i = begin; i < end; ++i) {
      batch.Delete(storage::Catalog::PendingKey(sequences[i]));
    }
    if (Status s = catalog_->Write(&batch, /*sync=*/false); !s.ok()) {
      std::lock_guard<std::mutex> lock(write_mutex_);
      StopWrites(s, "deleting sealed write-ahead records failed: ");
      return write_error_;
    }
  }
  return absl::OkStatus();
}

TurboQuantIndex::Impl::RewriteRun TurboQuantIndex::Impl::ClaimSegments(size_t first, size_t end) {
  const std::shared_ptr<const Snapshot> current = Current();
  RewriteRun run(current->segments.begin() + first, current->segments.begin() + end);
  for (const SnapshotSegment& s : run) claimed_.insert(s.segment.get());
  return run;
}

TurboQuantIndex::Impl::RewriteRun TurboQuantIndex::Impl::ClaimRun(size_t first, size_t end) {
  RewriteRun run = ClaimSegments(first, end);
  for (const SnapshotSegment& s : run) {
    if (!s.segment->unsealed()) continue;
    // Rows committed from now on go to a new vectors log, so that once this
    // seal commits no record points into the logs written so far.
    std::lock_guard<std::mutex> lock(vectors_log_mutex_);
    vectors_log_.reset();
    retiring_logs_upto_ = last_vectors_log_;
    sealing_through_ = next_sequence_;
  }
  return run;
}

void TurboQuantIndex::Impl::Unclaim(const RewriteRun& run) {
  for (const SnapshotSegment& s : run) claimed_.erase(s.segment.get());
}

Status TurboQuantIndex::Impl::Rewrite(const RewriteRun& run) {
  try {
    return MergeAndCommit(run);
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(write_mutex_);
    Unclaim(run);
    retiring_logs_upto_ = 0;
    sealing_through_ = 0;
    locations_built_ = false;
    locations_.clear();
    StopWrites(internal::ExceptionStatus(e), "sealing or compaction failed: ");
    return write_error_;
  }
}

Status TurboQuantIndex::Impl::MergeAndCommit(const RewriteRun& run) {
  std::vector<std::shared_ptr<const Segment>> merged;
  std::vector<uint64_t> sources;
  // Segments written to files share the kept vectors of their sources until
  // the file is written; in memory they are copied, dropping deleted rows.
  const bool copy_vectors = catalog_ == nullptr;
  auto builder = std::make_unique<SegmentBuilder>(*codec_, copy_vectors);
  const size_t max_rows = static_cast<size_t>(tuning_.max_segment_rows);
  for (size_t s = 0; s < run.size(); ++s) {
    const size_t n = run[s].segment->rows();
    for (size_t row = 0; row < n;) {
      if (!internal::IsLive(run[s].live, row)) {
        ++row;
        continue;
      }
      const size_t end = internal::LiveRunEnd(run[s].live, row, n, max_rows - builder->rows());
      builder->AppendRows(run[s].segment, row, end, /*keep_sequences=*/false);
      for (; row < end; ++row) sources.push_back(uint64_t{s} << 32 | row);
      if (builder->rows() == max_rows) {
        merged.push_back(builder->Build(options_.dim));
        builder = std::make_unique<SegmentBuilder>(*codec_, copy_vectors);
      }
    }
  }
  if (builder->rows() > 0) merged.push_back(builder->Build(options_.dim));

  rocksdb::WriteBatch batch;
  if (catalog_ != nullptr && !merged.empty()) {
    uint64_t first_id;
    {
      std::lock_guard<std::mutex> lock(write_mutex_);
      first_id = next_segment_;
      next_segment_ += merged.size();
    }
    auto sealed = SealToFiles(std::move(merged), first_id, &batch);
    if (!sealed.ok()) {
      std::lock_guard<std::mutex> lock(write_mutex_);
      Unclaim(run);
      retiring_logs_upto_ = 0;
      sealing_through_ = 0;
      return sealed.status();
    }
    merged = std::move(*sealed);
  }
  std::vector<uint64_t> sealed;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    const Status committed = CommitRewrite(run, merged, sources, &batch, &sealed);
    Unclaim(run);
    if (committed.ok() && retiring_logs_upto_ != 0) RemoveVectorsLogs(retiring_logs_upto_);
    retiring_logs_upto_ = 0;
    sealing_through_ = 0;
    if (!committed.ok()) return committed;
  }
  // The sealed write-ahead records go after the commit, a batch at a time,
  // so that writers wait for none of them for long; RocksDB drops them at its
  // own flushes and compactions (RewriteNow forces that).
  return DeleteSealedWriteAhead(sealed);
}

Status TurboQuantIndex::Impl::CommitRewrite(
    const RewriteRun& run, const std::vector<std::shared_ptr<const Segment>>& merged,
    const std::vector<uint64_t>& sources, rocksdb::WriteBatch* batch,
    std::vector<uint64_t>* sealed) {
  const std::shared_ptr<const Snapshot> current = Current();
  const size_t first = LocateRun(*current, run);
  Status status = CheckWritable();
  if (status.ok() && first == current->segments.size()) {
    status = absl::InternalError("the rewritten segments moved in the snapshot during the rewrite");
  }
  if (!status.ok()) {
    for (const auto& segment : merged) segment->MarkObsolete(fs_);
    return status;
  }
  // The run as it is now: writers may have deleted rows since it was merged.
  const std::vector<SnapshotSegment> now(current->segments.begin() + first,
                                         current->segments.begin() + first + run.size());
  std::vector<SnapshotSegment> replacement;
  size_t source = 0;
  for (const auto& segment : merged) {
    SnapshotSegment out{segment, nullptr, segment->rows()};
    std::shared_ptr<RowBitmap> live;
    for (size_t row = 0; row < segment->rows(); ++row, ++source) {
      const SnapshotSegment& from = now[sources[source] >> 32];
      if (internal::IsLive(from.live, sources[source] & 0xffffffffu)) continue;
      if (live == nullptr) live = internal::MutableLive(nullptr, segment->rows());
      live->Clear(row);
      --out.live_rows;
      if (segment->has_file()) {
        batch->Put(storage::Catalog::TombstoneKey(segment->segment_id(), row), "");
      }
    }
    out.live = std::move(live);
    replacement.push_back(std::move(out));
  }
  if (catalog_ != nullptr) {
    for (const SnapshotSegment& old : now) DropFromCatalog(old, batch, sealed);
    batch->Put(storage::Catalog::kNextSegmentKey, storage::Catalog::EncodeCounter(next_segment_));
    if (sealing_through_ != 0) {
      batch->Put(storage::Catalog::kSealedThroughKey,
                 storage::Catalog::EncodeCounter(sealing_through_));
    }
  }
  // A failed batch may still have reached the disk, so its files stay: the
  // next Open keeps them if the catalog names them, else removes them.
  if (Status s = WriteCatalog(batch); !s.ok()) return s;
  auto next = std::make_shared<Snapshot>();
  next->segments.assign(current->segments.begin(), current->segments.begin() + first);
  for (const SnapshotSegment& s : replacement) {
    next->segments.push_back(s);
    RecordLocations(*s.segment, s.live);
  }
  next->segments.insert(next->segments.end(), current->segments.begin() + first + run.size(),
                        current->segments.end());
  for (const SnapshotSegment& old : now) old.segment->MarkObsolete(fs_);
  Publish(next);
  ++(now.front().segment->unsealed() ? seals_ : compactions_);
  return absl::OkStatus();
}

Status TurboQuantIndex::Impl::RewriteNow(bool unsealed_only) {
  std::lock_guard<std::mutex> rewrite(rewrite_mutex_);
  RewriteRun run;
  {
    // A running chunk merge ends first: its chunks are part of the run.
    std::lock_guard<std::mutex> merges(chunk_merge_mutex_);
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (Status s = CheckWritable(); !s.ok()) return s;
    const std::shared_ptr<const Snapshot> current = Current();
    const size_t first = unsealed_only ? FirstUnsealed(*current) : 0;
    if (first == current->segments.size()) return absl::OkStatus();
    run = ClaimRun(first, current->segments.size());
  }
  if (Status s = Rewrite(run); !s.ok()) return s;
  // The caller waits anyway: give RocksDB's space of the sealed write-ahead
  // records back now (a flush and a compaction of that key range), which
  // background seals leave to RocksDB's own schedule. Under the lock, as
  // ThreadSanitizer cannot see RocksDB's ordering of a flush against a
  // memtable write (Debian's RocksDB is not instrumented).
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (catalog_ != nullptr) catalog_->ReclaimWriteAhead().IgnoreError();
  return absl::OkStatus();
}

Status TurboQuantIndex::Impl::Flush() {
  return catalog_ == nullptr ? absl::OkStatus() : RewriteNow(/*unsealed_only=*/true);
}

Status TurboQuantIndex::Impl::Compact() { return RewriteNow(/*unsealed_only=*/false); }

}  // namespace turboquant
