// Background work of a writable index: sealing unsealed rows and compacting
// sealed segments on one library-owned thread, never inside a caller's Add.
//
// What is due (DueRun), in order: the unsealed rows once they reach
// seal_rows; merging the small chunks of recent writes (chunk_merge.cc); a
// sealed segment whose rows are a fifth deleted; and
// size-tiered merging, as in LSM trees: sealed segments are grouped by size
// class (a factor of 4 each), and once the trailing sealed segments hold
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
  if (background_.joinable()) background_.join();
}

void TurboQuantIndex::Impl::StartBackgroundWork() {
  if (!tuning_.background_work) return;
  background_wanted_ = true;  // work may be due already after recovery
  background_ = std::thread([this] { RunBackgroundThread(); });
}

TurboQuantIndex::Impl::DueWork TurboQuantIndex::Impl::DueRun(const Snapshot& snapshot) const {
  const size_t end = snapshot.segments.size();
  const size_t first_unsealed = FirstUnsealed(snapshot);
  int64_t unsealed = 0;
  for (size_t s = first_unsealed; s < end; ++s) {
    unsealed += static_cast<int64_t>(snapshot.segments[s].segment->rows());
  }
  if (unsealed >= tuning_.seal_rows) return {first_unsealed, end};
  const size_t first_small = FirstSmallChunk(snapshot);
  if (end - first_small >= internal::kChunksPerMerge) return {first_small, end, true};
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

void TurboQuantIndex::Impl::WakeBackgroundIfDue(const Snapshot& snapshot) {
  const DueWork due = DueRun(snapshot);
  if (due.first == due.end || !background_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(background_mutex_);
    background_wanted_ = true;
  }
  background_cv_.notify_all();
}

void TurboQuantIndex::Impl::RunBackgroundThread() {
  std::unique_lock<std::mutex> lock(background_mutex_);
  while (true) {
    background_cv_.wait(lock, [&] { return background_stop_ || background_wanted_; });
    if (background_stop_) return;
    background_wanted_ = false;
    background_busy_ = true;
    lock.unlock();
    try {
      DoDueWork();
    } catch (const std::exception& e) {
      // Claiming a run can run out of memory too; Rewrite catches the rest.
      std::lock_guard<std::mutex> write(write_mutex_);
      StopWrites(internal::ExceptionStatus(e), "background sealing or compaction failed: ");
    }
    lock.lock();
    background_busy_ = false;
    background_cv_.notify_all();  // for WaitForBackgroundWork
  }
}

void TurboQuantIndex::Impl::DoDueWork() {
  std::lock_guard<std::mutex> rewrite(rewrite_mutex_);
  while (true) {
    RewriteRun run;
    DueWork due;
    {
      std::lock_guard<std::mutex> lock(write_mutex_);
      if (!CheckWritable().ok()) return;
      due = DueRun(*Current());
      if (due.first == due.end) return;
      run = due.chunks ? ClaimSegments(due.first, due.end) : ClaimRun(due.first, due.end);
    }
    if (Status s = due.chunks ? MergeChunks(run) : Rewrite(run); !s.ok()) {
      std::lock_guard<std::mutex> lock(write_mutex_);
      StopWrites(s, "background sealing or compaction failed: ");
      return;
    }
  }
}

Status TurboQuantIndex::Impl::WaitForBackgroundWork() {
  if (catalog_ != nullptr && catalog_->read_only()) return absl::OkStatus();
  if (background_.joinable()) {
    std::unique_lock<std::mutex> lock(background_mutex_);
    background_wanted_ = true;
    background_cv_.notify_all();
    background_cv_.wait(lock, [&] { return !background_wanted_ && !background_busy_; });
  } else {
    DoDueWork();
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  return write_error_;
}

}  // namespace turboquant
