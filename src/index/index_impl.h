// The state behind TurboQuantIndex, shared by the files that implement it:
//   write_path.cc    Add, Remove, Get, Contains, Search
//   seal.cc          sealing unsealed rows and compaction (Rewrite)
//   recovery.cc      Open's replay of the catalog
//   maintenance.cc   Verify, Backup, Stats
//   turboquant_index.cc  Create/Open and the public forwarding
//
// Writers are serialized by write_mutex_ and publish a new immutable Snapshot
// after every change; searches copy the current snapshot pointer and run
// without locks, so they never wait for a writer (nor see half a write).
#ifndef TURBOQUANT_SRC_INDEX_INDEX_IMPL_H_
#define TURBOQUANT_SRC_INDEX_INDEX_IMPL_H_

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "src/index/snapshot.h"
#include "storage/catalog.h"
#include "turboquant/index.h"

namespace turboquant {
namespace internal {

// Unsealed rows are kept in chunks of at most this many rows; an Add copies
// only the last chunk, so small writes stay cheap while snapshots stay
// immutable.
constexpr size_t kChunkRows = 16384;
// Every scanned segment costs a little per query (table setup, a candidate
// list to merge), so this many small chunks are merged into one larger
// unsealed segment: a logarithmic number of segments without sealing early.
constexpr size_t kChunksPerMerge = 8;

inline std::string SegmentPath(const std::string& dir, uint64_t segment_id) {
  return (std::filesystem::path(dir) / "segments" / absl::StrFormat("%016x.tqs", segment_id)).string();
}

// Rows of a new or copied in-memory segment, before it is frozen.
struct SegmentBuilder {
  const size_t code_size;
  ScanLayout layout;
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  std::vector<uint64_t> sequences;

  explicit SegmentBuilder(const Codec& codec) : code_size(codec.code_size()), layout(codec) {}

  // Appends the live rows of `from`.
  void AppendLive(const SnapshotSegment& from, int dim, bool keep_sequences) {
    const Segment& segment = *from.segment;
    std::vector<uint8_t> code(code_size);
    for (size_t row = 0; row < segment.rows(); ++row) {
      if (!IsLive(from.live, row)) continue;
      segment.layout().ExtractCode(row, code.data());
      layout.Append(code.data(), 1);
      ids.push_back(segment.id(row));
      if (const float* v = segment.vector(row, dim)) vectors.insert(vectors.end(), v, v + dim);
      if (keep_sequences) sequences.push_back(segment.sequence(row));
    }
  }

  std::shared_ptr<const Segment> Build() {
    return std::make_shared<const Segment>(std::move(layout), std::move(ids), std::move(vectors),
                                           std::move(sequences));
  }
};

inline LiveRows AllLive(size_t rows) {
  auto bitmap = std::make_shared<std::vector<uint64_t>>((rows + 63) / 64, ~uint64_t{0});
  return bitmap;
}


}  // namespace internal

class TurboQuantIndex::Impl {
 public:
  using LiveRows = internal::LiveRows;
  using Segment = internal::Segment;
  using Snapshot = internal::Snapshot;
  using SnapshotSegment = internal::SnapshotSegment;

 public:
  Impl(const IndexOptions& options, const CollectionOptions& tuning, std::unique_ptr<Codec> codec,
       std::string dir, std::unique_ptr<storage::Catalog> catalog)
      : options_(options),
        tuning_(tuning),
        codec_(std::move(codec)),
        dir_(std::move(dir)),
        catalog_(std::move(catalog)),
        snapshot_(std::make_shared<const Snapshot>()) {}

  // Rebuilds the state of a durable collection from its catalog contents.
  Status Recover(const storage::CatalogContents& contents);

  Status Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors);
  StatusOr<int64_t> Remove(absl::Span<const int64_t> ids);
  StatusOr<std::vector<float>> Get(int64_t id);
  bool Contains(int64_t id);
  StatusOr<SearchResults> Search(absl::Span<const float> queries, const SearchParams& params) const;
  Status Flush();
  Status Compact();
  Status Verify() const;
  Status Backup(const std::string& dir);
  IndexStats Stats() const;
  int64_t size() const { return Current()->live_count(); }
  const IndexOptions& options() const { return options_; }

 private:
  struct Location {
    const Segment* segment;
    uint32_t row;
  };

  std::shared_ptr<const Snapshot> Current() const {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    return snapshot_;
  }
  void Publish(std::shared_ptr<const Snapshot> snapshot) {
    std::lock_guard<std::mutex> lock(snapshot_mutex_);
    snapshot_ = std::move(snapshot);
  }

  void EnsureLocations();
  Status CheckBatchIds(absl::Span<const int64_t> ids) const;
  // Marks rows dead in `next`, recording the catalog changes in `batch`.
  void DeleteRows(const std::vector<Location>& rows, Snapshot* next,
                  rocksdb::WriteBatch* batch);
  void MergeSmallChunks(Snapshot* next);
  // Points the ids of every row of a new in-memory segment at it.
  void RecordLocations(const Segment& segment) {
    for (size_t row = 0; row < segment.rows(); ++row) {
      locations_[segment.id(row)] = {&segment, static_cast<uint32_t>(row)};
    }
  }
  void AppendUnsealed(absl::Span<const int64_t> ids, const std::vector<uint8_t>& codes,
                      const std::vector<float>& vectors, absl::Span<const uint64_t> sequences,
                      Snapshot* next);
  // Merges the segments [first, end) of the current snapshot into one sealed
  // segment (a file for durable collections) and publishes the result.
  Status Rewrite(size_t first);
  size_t FirstUnsealed(const Snapshot& snapshot) const;
  StatusOr<std::shared_ptr<const Segment>> OpenSealed(uint64_t segment_id, uint64_t rows) const;
  Status Write(rocksdb::WriteBatch* batch) { return catalog_ ? catalog_->Write(batch) : absl::OkStatus(); }

  const IndexOptions options_;
  const CollectionOptions tuning_;
  const std::unique_ptr<Codec> codec_;
  const std::string dir_;  // empty for an in-memory index

  // std::mutex rather than absl::Mutex: Debian's prebuilt Abseil is not
  // instrumented for ThreadSanitizer, which then cannot see its ordering.
  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by snapshot_mutex_

  // Serializes writers; guards everything below.
  mutable std::mutex write_mutex_;
  std::unique_ptr<storage::Catalog> catalog_;
  uint64_t next_segment_ = 1;
  uint64_t next_sequence_ = 1;
  // Where every live id is; built from the segments' id arrays on first need
  // so that opening a large collection does not read them.
  bool locations_built_ = false;
  absl::flat_hash_map<int64_t, Location> locations_;
};

}  // namespace turboquant

#endif  // TURBOQUANT_SRC_INDEX_INDEX_IMPL_H_
