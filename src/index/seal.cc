// Sealing unsealed rows into a segment file, and compaction: both are a
// Rewrite of a run of segments into one.
#include "src/index/index_impl.h"

#include <unistd.h>

namespace turboquant {

using internal::Segment;
using internal::Snapshot;
using internal::SegmentBuilder;
using internal::SegmentPath;

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

Status TurboQuantIndex::Impl::Rewrite(size_t first) {
  const std::shared_ptr<const Snapshot> current = Current();
  SegmentBuilder merged(*codec_);
  for (size_t s = first; s < current->segments.size(); ++s) {
    merged.AppendLive(current->segments[s], options_.dim, /*keep_sequences=*/false);
  }
  auto next = std::make_shared<Snapshot>();
  next->segments.assign(current->segments.begin(), current->segments.begin() + first);
  const size_t rows = merged.ids.size();
  std::shared_ptr<const Segment> segment = merged.Build();
  if (catalog_ != nullptr) {
    // The file is complete on disk before the catalog names it; a crash in
    // between leaves an unnamed file, which Open removes.
    const uint64_t segment_id = next_segment_;
    rocksdb::WriteBatch batch;
    if (rows > 0) {
      auto bytes = storage::WriteSegmentFile(SegmentPath(dir_, segment_id), options_,
                                             codec_->code_size(), segment->Contents(options_.dim));
      if (!bytes.ok()) return bytes.status();
      batch.Put(storage::Catalog::SegmentKey(segment_id),
                storage::Catalog::EncodeSegment({segment_id, rows, *bytes}));
    }
    batch.Put(storage::Catalog::kNextSegmentKey, storage::Catalog::EncodeCounter(segment_id + 1));
    for (size_t s = first; s < current->segments.size(); ++s) {
      const Segment& old = *current->segments[s].segment;
      if (old.has_file()) {
        batch.Delete(storage::Catalog::SegmentKey(old.segment_id()));
        batch.DeleteRange(storage::Catalog::TombstonePrefix(old.segment_id()),
                          storage::Catalog::TombstonePrefix(old.segment_id() + 1));
      }
    }
    // Every unsealed chunk is at or after `first`, so all write-ahead records
    // are sealed now.
    storage::Catalog::DeletePending(0, next_sequence_, &batch);
    if (Status s = Write(&batch); !s.ok()) {
      ::unlink(SegmentPath(dir_, segment_id).c_str());
      return s;
    }
    next_segment_ = segment_id + 1;
    // Only space is at stake here: the batch above is committed, so a
    // failure must not fail the seal.
    catalog_->ReclaimWriteAhead().IgnoreError();
    if (rows > 0) {
      auto sealed = OpenSealed(segment_id, rows);
      if (!sealed.ok()) return sealed.status();
      segment = std::move(*sealed);
    }
  }
  if (rows > 0) next->segments.push_back({segment, nullptr, rows});
  for (size_t s = first; s < current->segments.size(); ++s) {
    current->segments[s].segment->MarkObsolete();
  }
  locations_built_ = false;  // rows moved; rebuilt on next need
  locations_.clear();
  Publish(next);
  return absl::OkStatus();
}

Status TurboQuantIndex::Impl::Flush() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (catalog_ == nullptr) return absl::OkStatus();
  const std::shared_ptr<const Snapshot> current = Current();
  const size_t first = FirstUnsealed(*current);
  return first == current->segments.size() ? absl::OkStatus() : Rewrite(first);
}

Status TurboQuantIndex::Impl::Compact() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  return Rewrite(0);
}

}  // namespace turboquant
