// Merging the small chunks of recent writes on the background thread.
//
// Each group commit adds its rows as new immutable chunks, so a write never
// copies earlier rows. Many small chunks cost searches a little each, so the
// background thread merges kChunksPerMerge trailing small chunks into one
// larger unsealed chunk: outside write_mutex_, like a Rewrite, and with the
// same write-ahead records (the merged chunk keeps its rows' sequences), so
// the catalog does not change and nothing is written to disk. Writers go on
// meanwhile; rows they delete from the claimed chunks are dead in the merged
// one when it is swapped in.
#include "src/index/index_impl.h"

namespace turboquant {

using internal::Segment;
using internal::SegmentBuilder;
using internal::Snapshot;
using internal::SnapshotSegment;

size_t TurboQuantIndex::Impl::FirstSmallChunk(const Snapshot& snapshot) const {
  size_t first = snapshot.segments.size();
  while (first > 0) {
    const Segment& chunk = *snapshot.segments[first - 1].segment;
    if (!chunk.unsealed() || chunk.rows() > internal::kChunkRows || claimed_.contains(&chunk)) {
      break;
    }
    --first;
  }
  return first;
}

size_t TurboQuantIndex::Impl::LocateRun(const Snapshot& snapshot, const RewriteRun& run) const {
  const size_t n = snapshot.segments.size();
  size_t first = 0;
  while (first < n && snapshot.segments[first].segment != run[0].segment) ++first;
  if (first + run.size() > n) return n;
  for (size_t i = 0; i < run.size(); ++i) {
    if (snapshot.segments[first + i].segment != run[i].segment) return n;
  }
  return first;
}

Status TurboQuantIndex::Impl::MergeChunks(const RewriteRun& run) {
  try {
    SegmentBuilder merged(*codec_);
    size_t rows = 0;
    for (const SnapshotSegment& chunk : run) rows += chunk.live_rows;
    merged.Reserve(rows, /*with_sequences=*/true);
    for (const SnapshotSegment& chunk : run) {
      merged.AppendLive(chunk, /*keep_sequences=*/true);
    }
    std::shared_ptr<const Segment> chunk = merged.Build(options_.dim);
    std::lock_guard<std::mutex> lock(write_mutex_);
    CommitChunkMerge(run, std::move(chunk));
    Unclaim(run);
    return write_error_;
  } catch (const std::exception& e) {
    // The id map may be half moved to the merged chunk.
    std::lock_guard<std::mutex> lock(write_mutex_);
    Unclaim(run);
    locations_built_ = false;
    locations_.clear();
    StopWrites(internal::ExceptionStatus(e), "merging chunks failed: ");
    return write_error_;
  }
}

void TurboQuantIndex::Impl::CommitChunkMerge(const RewriteRun& run,
                                             std::shared_ptr<const Segment> chunk) {
  const std::shared_ptr<const Snapshot> current = Current();
  const size_t first = LocateRun(*current, run);
  if (first == current->segments.size()) {
    StopWrites(absl::InternalError("the merged chunks moved in the snapshot during the merge"), "");
    return;
  }
  // Rows live when the run was claimed are the merged rows, in order; those
  // deleted since are dead in the merged chunk.
  std::shared_ptr<RowBitmap> live;
  size_t merged_row = 0, live_rows = chunk->rows();
  for (size_t s = 0; s < run.size(); ++s) {
    const SnapshotSegment& now = current->segments[first + s];
    for (size_t row = 0; row < run[s].segment->rows(); ++row) {
      if (!internal::IsLive(run[s].live, row)) continue;
      if (!internal::IsLive(now.live, row)) {
        if (live == nullptr) live = internal::MutableLive(nullptr, chunk->rows());
        live->Clear(merged_row);
        --live_rows;
      }
      ++merged_row;
    }
  }
  auto next = std::make_shared<Snapshot>();
  next->segments.assign(current->segments.begin(), current->segments.begin() + first);
  if (chunk->rows() > 0) {
    RecordLocations(*chunk, live);
    next->segments.push_back({std::move(chunk), std::move(live), live_rows});
  }
  next->segments.insert(next->segments.end(), current->segments.begin() + first + run.size(),
                        current->segments.end());
  Publish(next);
}

}  // namespace turboquant
