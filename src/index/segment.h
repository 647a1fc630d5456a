// An immutable run of rows that a search scans: codes in scan layout, the
// external id of every row and, with keep_vectors, the original vectors.
// A segment is either in memory (built from codes) or sealed (a mapped
// segment file). Snapshots share segments through shared_ptr; a sealed
// segment marked obsolete by compaction unlinks its file when the last
// snapshot holding it is gone.
#ifndef TURBOQUANT_SRC_INDEX_SEGMENT_H_
#define TURBOQUANT_SRC_INDEX_SEGMENT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "src/scan/scan.h"
#include "storage/segment_file.h"

namespace turboquant::internal {

class Segment {
 public:
  // An in-memory segment. `sequences` are the write-ahead keys of its rows
  // for a chunk of recent writes, empty for a merged segment.
  Segment(ScanLayout layout, std::vector<int64_t> ids, std::vector<float> vectors,
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
  const float* vector(size_t row, int dim) const {
    return vectors_ == nullptr ? nullptr : vectors_ + row * static_cast<size_t>(dim);
  }
  uint64_t sequence(size_t row) const { return sequences_[row]; }
  const storage::SegmentFile* file() const { return file_.get(); }
  // Everything a segment file needs, as views of this segment.
  storage::SegmentContents Contents(int dim) const;

  // Unlink the file (through `fs`) once the last reference is released.
  void MarkObsolete(storage::FileSystemPtr fs) const;

 private:
  uint64_t segment_id_ = 0;
  std::unique_ptr<storage::SegmentFile> file_;
  ScanLayout layout_;
  std::vector<int64_t> owned_ids_;
  std::vector<float> owned_vectors_;
  std::vector<uint64_t> sequences_;
  const int64_t* ids_;
  const float* vectors_;
  // Set once by the writer before the segment leaves its last snapshot.
  mutable storage::FileSystemPtr obsolete_in_;
};

// Which rows of a segment are live in a snapshot; null = all.
using LiveRows = std::shared_ptr<const std::vector<uint64_t>>;

inline bool IsLive(const LiveRows& live, size_t row) {
  return live == nullptr || ((*live)[row / 64] >> (row % 64) & 1) != 0;
}

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_SEGMENT_H_
