// Sealing unsealed rows into segment files, and compaction: both are a
// Rewrite of a run of segments into new sealed ones.
//
// Order of a Rewrite (ARCHITECTURE.md section 6): every new file is written,
// fsynced, renamed, opened and validated first; only then does one catalog
// batch name the new files and drop the old ones. A failure before that batch
// changes nothing (the unnamed files are removed); a failed batch is the
// sticky write error; after the batch nothing can fail but reclaiming space.
#include "src/index/index_impl.h"

namespace turboquant {

using internal::Segment;
using internal::SegmentBuilder;
using internal::SegmentPath;
using internal::Snapshot;

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
    std::vector<std::shared_ptr<const Segment>> merged, rocksdb::WriteBatch* batch) {
  std::vector<std::shared_ptr<const Segment>> sealed;
  Status status;
  for (size_t i = 0; i < merged.size() && status.ok(); ++i) {
    const uint64_t segment_id = next_segment_ + i;
    const uint64_t rows = merged[i]->rows();
    auto bytes = storage::WriteSegmentFile(fs_, SegmentPath(dir_, segment_id), options_,
                                           codec_->code_size(), merged[i]->Contents(options_.dim));
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
                                            rocksdb::WriteBatch* batch) const {
  const Segment& segment = *old.segment;
  if (segment.has_file()) batch->Delete(storage::Catalog::SegmentKey(segment.segment_id()));
  for (size_t row = 0; row < segment.rows(); ++row) {
    const bool live = internal::IsLive(old.live, row);
    if (segment.has_file() && !live) {
      batch->Delete(storage::Catalog::TombstoneKey(segment.segment_id(), row));
    } else if (segment.unsealed() && live) {
      batch->Delete(storage::Catalog::PendingKey(segment.sequence(row)));
    }
  }
}

Status TurboQuantIndex::Impl::Rewrite(size_t first) {
  const std::shared_ptr<const Snapshot> current = Current();
  std::vector<std::shared_ptr<const Segment>> merged;
  auto builder = std::make_unique<SegmentBuilder>(*codec_);
  for (size_t s = first; s < current->segments.size(); ++s) {
    const internal::SnapshotSegment& from = current->segments[s];
    for (size_t row = 0; row < from.segment->rows(); ++row) {
      if (!internal::IsLive(from.live, row)) continue;
      builder->AppendRow(*from.segment, row, options_.dim, /*keep_sequence=*/false);
      if (static_cast<int64_t>(builder->rows()) == tuning_.max_segment_rows) {
        merged.push_back(builder->Build());
        builder = std::make_unique<SegmentBuilder>(*codec_);
      }
    }
  }
  if (builder->rows() > 0) merged.push_back(builder->Build());

  if (catalog_ != nullptr) {
    rocksdb::WriteBatch batch;
    auto sealed = SealToFiles(std::move(merged), &batch);
    if (!sealed.ok()) return sealed.status();
    const uint64_t next_segment = next_segment_ + sealed->size();
    batch.Put(storage::Catalog::kNextSegmentKey, storage::Catalog::EncodeCounter(next_segment));
    for (size_t s = first; s < current->segments.size(); ++s) {
      DropFromCatalog(current->segments[s], &batch);
    }
    // A failed batch may still have reached the disk, so its files stay:
    // the next Open keeps them if the catalog names them, else removes them.
    if (Status s = WriteCatalog(&batch); !s.ok()) return s;
    next_segment_ = next_segment;
    // Only space is at stake here: the batch above is committed.
    catalog_->ReclaimWriteAhead().IgnoreError();
    merged = std::move(*sealed);
  }
  auto next = std::make_shared<Snapshot>();
  next->segments.assign(current->segments.begin(), current->segments.begin() + first);
  for (auto& segment : merged) next->segments.push_back({segment, nullptr, segment->rows()});
  for (size_t s = first; s < current->segments.size(); ++s) {
    current->segments[s].segment->MarkObsolete(fs_);
  }
  locations_built_ = false;  // rows moved; rebuilt on next need
  locations_.clear();
  Publish(next);
  return absl::OkStatus();
}

Status TurboQuantIndex::Impl::Flush() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (catalog_ == nullptr) return absl::OkStatus();
  if (Status s = CheckWritable(); !s.ok()) return s;
  const std::shared_ptr<const Snapshot> current = Current();
  const size_t first = FirstUnsealed(*current);
  return first == current->segments.size() ? absl::OkStatus() : Rewrite(first);
}

Status TurboQuantIndex::Impl::Compact() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (Status s = CheckWritable(); !s.ok()) return s;
  return Rewrite(0);
}

}  // namespace turboquant
