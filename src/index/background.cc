// Background work of a writable index, on two library-owned threads and
// never inside a caller's Add: one seals unsealed rows and compacts sealed
// segments (Rewrites), the other merges the small chunks of recent writes
// (chunk_merge.cc). Two threads, because a seal of a million kept 768-d
// vectors writes gigabytes: on one thread, every Add meanwhile stayed a chunk
// of its own until the seal ended (a thousand segments, each a small cost to
// every search).
//
// Rewrites due (DueRewrite), in order: the unsealed rows once they reach
// seal_rows; a sealed segment whose rows are a fifth deleted; and size-tiered
// merging, as in LSM trees: sealed segments are grouped by size class (a
// factor of 4 each), and once the trailing sealed segments hold
// kSegmentsPerTier of one class they are merged into one of a larger class.
// So each row is rewritten a logarithmic number of times and a search scans
// a logarithmic number of segments.
#include "absl/numeric/bits.h"
#include "src/index/index_impl.h"

namespace turboquant {

using internal::Snapshot;
using internal::SnapshotSegment;

namespace {

constexpr size_t kSegmentsPerTier = 4;
// A sealed segment is rewritten once this fraction of its rows is deleted.
constexpr size_t kDeletedFractionDenominator = 5;

// Classes grow by a factor of 4.
int SizeClass(size_t rows) { return absl::bit_width(rows) / 2; }

}  // namespace

TurboQuantIndex::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(background_mutex_);
    background_stop_ = true;
  }
  background_cv_.notify_all();
  for (Worker* worker : {&rewriter_, &chunk_merger_}) {
    if (worker->thread.joinable()) worker->thread.join();
  }
}

void TurboQuantIndex::Impl::StartBackgroundWork() {
  if (!tuning_.background_work) return;
  // Work may be due already after recovery.
  rewriter_.wanted = chunk_merger_.wanted = true;
  rewriter_.thread = std::thread([this] { RunWorker(&rewriter_, &Impl::DoDueRewrites); });
  chunk_merger_.thread =
      std::thread([this] { RunWorker(&chunk_merger_, &Impl::DoDueChunkMerges); });
}

TurboQuantIndex::Impl::DueWork TurboQuantIndex::Impl::DueRewrite(const Snapshot& snapshot) const {
  const size_t end = snapshot.segments.size();
  const size_t first_unsealed = FirstUnsealed(snapshot);
  int64_t unsealed = 0;
  for (size_t s = first_unsealed; s < end; ++s) {
    unsealed += static_cast<int64_t>(snapshot.segments[s].segment->rows());
  }
  if (unsealed >= tuning_.seal_rows) return {first_unsealed, end};
  for (size_t s = 0; s < first_unsealed; ++s) {
    const SnapshotSegment& segment = snapshot.segments[s];
    const size_t deleted = segment.segment->rows() - segment.live_rows;
    if (deleted > 0 && deleted * kDeletedFractionDenominator >= segment.segment->rows()) {
      return {s, s + 1};
    }
  }
  // Segments of half the largest size or more are left alone: merging them
  // would only split them again.
  const size_t largest = static_cast<size_t>(tuning_.max_segment_rows) / 2;
  size_t first = first_unsealed;
  while (first > 0) {
    const size_t rows = snapshot.segments[first - 1].segment->rows();
    if (rows >= largest ||
        SizeClass(rows) != SizeClass(snapshot.segments[first_unsealed - 1].segment->rows())) {
      break;
    }
    --first;
  }
  if (first_unsealed - first >= kSegmentsPerTier) return {first, first_unsealed};
  return {end, end};
}

TurboQuantIndex::Impl::DueWork TurboQuantIndex::Impl::DueChunkMerge(
    const Snapshot& snapshot) const {
  const size_t end = snapshot.segments.size();
  const size_t first_small = FirstSmallChunk(snapshot);
  if (end - first_small >= internal::kChunksPerMerge) return {first_small, end};
  return {end, end};
}

void TurboQuantIndex::Impl::WakeBackgroundIfDue(const Snapshot& snapshot) {
  const DueWork rewrite = DueRewrite(snapshot);
  const DueWork merge = DueChunkMerge(snapshot);
  const bool rewrite_due = rewrite.first != rewrite.end;
  const bool merge_due = merge.first != merge.end;
  if ((!rewrite_due && !merge_due) || !rewriter_.thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(background_mutex_);
    rewriter_.wanted |= rewrite_due;
    chunk_merger_.wanted |= merge_due;
  }
  background_cv_.notify_all();
}

void TurboQuantIndex::Impl::RunWorker(Worker* worker, void (Impl::*work)()) {
  std::unique_lock<std::mutex> lock(background_mutex_);
  while (true) {
    background_cv_.wait(lock, [&] { return background_stop_ || worker->wanted; });
    if (background_stop_) return;
    worker->wanted = false;
    worker->busy = true;
    lock.unlock();
    try {
      (this->*work)();
    } catch (const std::exception& e) {
      // Claiming a run can run out of memory too; Rewrite and MergeChunks
      // catch the rest.
      std::lock_guard<std::mutex> write(write_mutex_);
      StopWrites(internal::ExceptionStatus(e), "background sealing or compaction failed: ");
    }
    lock.lock();
    worker->busy = false;
    background_cv_.notify_all();  // for WaitForBackgroundWork
  }
}

void TurboQuantIndex::Impl::DoDueRewrites() {
  std::lock_guard<std::mutex> rewrite(rewrite_mutex_);
  while (true) {
    RewriteRun run;
    {
      std::lock_guard<std::mutex> merges(chunk_merge_mutex_);
      std::lock_guard<std::mutex> lock(write_mutex_);
      if (!CheckWritable().ok()) return;
      const DueWork due = DueRewrite(*Current());
      if (due.first == due.end) return;
      run = ClaimRun(due.first, due.end);
    }
    if (Status s = Rewrite(run); !s.ok()) {
      std::lock_guard<std::mutex> lock(write_mutex_);
      StopWrites(s, "background sealing or compaction failed: ");
      return;
    }
  }
}

void TurboQuantIndex::Impl::DoDueChunkMerges() {
  while (true) {
    std::lock_guard<std::mutex> merges(chunk_merge_mutex_);
    RewriteRun run;
    {
      std::lock_guard<std::mutex> lock(write_mutex_);
      if (!CheckWritable().ok()) return;
      const DueWork due = DueChunkMerge(*Current());
      if (due.first == due.end) return;
      run = ClaimSegments(due.first, due.end);
    }
    if (Status s = MergeChunks(run); !s.ok()) return;  // the sticky write error now
  }
}

void TurboQuantIndex::Impl::DoDueWork() {
  DoDueRewrites();
  DoDueChunkMerges();
}

Status TurboQuantIndex::Impl::WaitForBackgroundWork() {
  if (catalog_ != nullptr && catalog_->read_only()) return absl::OkStatus();
  if (rewriter_.thread.joinable()) {
    std::unique_lock<std::mutex> lock(background_mutex_);
    rewriter_.wanted = chunk_merger_.wanted = true;
    background_cv_.notify_all();
    background_cv_.wait(lock, [&] {
      return !rewriter_.wanted && !rewriter_.busy && !chunk_merger_.wanted && !chunk_merger_.busy;
    });
  } else {
    DoDueWork();
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  return write_error_;
}

}  // namespace turboquant
