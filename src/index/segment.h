// An immutable run of rows that a search scans: codes in scan layout, the
// external id of every row and, with keep_vectors, the original vectors.
// A segment is either in memory (built from codes) or sealed (a mapped
// segment file). Snapshots share segments through shared_ptr; a sealed
// segment marked obsolete by compaction unlinks its file when the last
// snapshot holding it is gone.
#ifndef TURBOQUANT_SRC_INDEX_SEGMENT_H_
#define TURBOQUANT_SRC_INDEX_SEGMENT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "src/index/kept_vectors.h"
#include "src/scan/scan.h"
#include "storage/segment_file.h"

namespace turboquant::internal {

class Segment {
 public:
  // An in-memory segment. `sequences` are the write-ahead keys of its rows
  // for a chunk of recent writes, empty for a merged segment.
  Segment(ScanLayout layout, std::vector<int64_t> ids, KeptVectors vectors,
          std::vector<uint64_t> sequences);
  // A sealed segment backed by a mapped file.
  Segment(uint64_t segment_id, const Codec& codec, std::unique_ptr<storage::SegmentFile> file);
  ~Segment();

  uint64_t segment_id() const { return segment_id_; }  // 0 = no file
  bool has_file() const { return file_ != nullptr; }
  // A chunk of recent writes, still in the write-ahead (not part of a
  // sealed or merged segment).
  bool unsealed() const { return !sequences_.empty(); }
  size_t rows() const { return layout_.size(); }
  const ScanLayout& layout() const { return layout_; }
  int64_t id(size_t row) const { return ids_[row]; }
  absl::Span<const int64_t> ids() const { return {ids_, rows()}; }
  // The original vector of a row, or null without keep_vectors.
  const float* vector(size_t row) const { return vectors_.empty() ? nullptr : vectors_.row(row); }
  const KeptVectors& kept_vectors() const { return vectors_; }
  uint64_t sequence(size_t row) const { return sequences_[row]; }
  const storage::SegmentFile* file() const { return file_.get(); }
  // Everything a segment file needs, as views of this segment.
  storage::SegmentContents Contents() const;

  // Unlink the file (through `fs`) once the last reference is released.
  void MarkObsolete(storage::FileSystemPtr fs) const;

  // The rows of `ids` (sorted ascending) in this segment, every row of an id
  // stored more than once; fn(row) for each. O(|ids| log(rows / |ids|)), so
  // a filter of a few ids costs a few probes, not a pass over every row.
  template <typename Fn>
  void ForEachRowOf(absl::Span<const int64_t> ids, Fn fn) const;

 private:
  // The segment's ids sorted, with the row of each: built on first use
  // (a filtered search), once, and never changed. Rows already in id order
  // (bulk loads, sequential ids) need no permutation.
  struct IdIndex {
    std::vector<int64_t> sorted_ids;  // empty when ids_ is already sorted
    std::vector<uint32_t> rows;       // row of sorted_ids[i]
  };
  const IdIndex& id_index() const;

 private:
  uint64_t segment_id_ = 0;
  std::unique_ptr<storage::SegmentFile> file_;
  ScanLayout layout_;
  std::vector<int64_t> owned_ids_;
  std::vector<uint64_t> sequences_;
  const int64_t* ids_;
  KeptVectors vectors_;
  // Set once by the writer before the segment leaves its last snapshot.
  mutable storage::FileSystemPtr obsolete_in_;
  // std::once_flag rather than absl::once_flag: Debian's prebuilt Abseil is
  // not instrumented for ThreadSanitizer.
  mutable std::once_flag id_index_once_;
  mutable IdIndex id_index_;
};

template <typename Fn>
void Segment::ForEachRowOf(absl::Span<const int64_t> ids, Fn fn) const {
  const IdIndex& index = id_index();
  const bool identity = index.sorted_ids.empty();
  const int64_t* sorted = identity ? ids_ : index.sorted_ids.data();
  const size_t n = rows();
  if (n == 0) return;
  // Only the listed ids within this segment's id range can match.
  const int64_t lowest = sorted[0], highest = sorted[n - 1];
  const int64_t* first = std::lower_bound(ids.begin(), ids.end(), lowest);
  const int64_t* last = std::upper_bound(first, ids.end(), highest);
  const double rows_per_id = highest > lowest ? double(n - 1) / (double(highest) - lowest) : 0;
  // Where the id would be if ids were spread evenly (exact for consecutive ids).
  auto guess = [&](int64_t id) {
    return std::min(n - 1, static_cast<size_t>((double(id) - lowest) * rows_per_id));
  };
  // The guess of an id kProbesAhead ids on is prefetched, so that its cache
  // miss overlaps the probes of the ids before it (a 1% allow list over a
  // million rows spends most of its mask building on these misses).
  constexpr ptrdiff_t kProbesAhead = 8;
  for (const int64_t* it = first; it != last; ++it) {
    if (last - it > kProbesAhead) __builtin_prefetch(sorted + guess(it[kProbesAhead]));
    const int64_t id = *it;
    // Unlike a binary search, the first probe of each id does not wait for
    // the previous id's.
    size_t at = guess(id);
    size_t step = 1;
    while (at > 0 && sorted[at] >= id) at -= std::min(at, step), step *= 2;
    step = 1;
    while (at < n && sorted[at] < id) at += step, step *= 2;
    // Now sorted[at - step / 2 .. at) < id <= sorted[at] (at may be n): the
    // first row of the id lies in between.
    at = static_cast<size_t>(
        std::lower_bound(sorted + (step > 1 ? at - step / 2 : 0), sorted + std::min(at, n), id) -
        sorted);
    for (size_t i = at; i < n && sorted[i] == id; ++i) fn(identity ? i : index.rows[i]);
  }
}

// Which rows of a segment are live in a snapshot; null = all. Snapshots share
// the pages of these bitmaps that deletes leave alone (row_mask.h).
using LiveRows = std::shared_ptr<const RowBitmap>;

inline bool IsLive(const LiveRows& live, size_t row) { return live == nullptr || live->Test(row); }

inline RowMask MaskOf(const LiveRows& rows) { return rows ? rows->mask() : RowMask(); }

// A private copy of `from` (every row of `rows` live when null) to clear rows
// of before it is published: it copies only the pages it changes.
inline std::shared_ptr<RowBitmap> MutableLive(const LiveRows& from, size_t rows) {
  return std::make_shared<RowBitmap>(from ? *from : RowBitmap::AllSet(rows));
}

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_SEGMENT_H_
