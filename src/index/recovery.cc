// Open: rebuilding a collection's snapshot from its catalog and files.
#include "src/index/index_impl.h"

#include <cstring>

#include "absl/container/flat_hash_set.h"

namespace turboquant {

using internal::Segment;
using internal::Snapshot;
using internal::SnapshotSegment;
namespace fs = std::filesystem;
using internal::AllLive;

Status TurboQuantIndex::Impl::Recover(const storage::CatalogContents& contents) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  next_segment_ = contents.next_segment;
  next_sequence_ = contents.next_sequence;
  auto next = std::make_shared<Snapshot>();
  absl::flat_hash_map<uint64_t, size_t> index_of_segment;
  absl::flat_hash_set<std::string> known_files;
  for (const storage::SegmentRecord& record : contents.segments) {
    auto segment = OpenSealed(record.segment_id, record.rows);
    if (!segment.ok()) return segment.status();
    known_files.insert(fs::path((*segment)->file()->path()).filename().string());
    index_of_segment[record.segment_id] = next->segments.size();
    next->segments.push_back({std::move(*segment), nullptr, record.rows});
  }
  // Tombstones clear bits of one mutable bitmap per segment, frozen after.
  absl::flat_hash_map<size_t, std::shared_ptr<std::vector<uint64_t>>> live_bits;
  for (const storage::Tombstone& tomb : contents.tombstones) {
    auto it = index_of_segment.find(tomb.segment_id);
    if (it == index_of_segment.end() || tomb.row >= next->segments[it->second].segment->rows()) {
      return absl::DataLossError(absl::StrFormat(
          "%s/catalog: tombstone for segment %d row %d names no stored row", dir_, tomb.segment_id,
          tomb.row));
    }
    SnapshotSegment& s = next->segments[it->second];
    auto& live = live_bits[it->second];
    if (live == nullptr) live = std::make_shared<std::vector<uint64_t>>(*AllLive(s.segment->rows()));
    if ((*live)[tomb.row / 64] >> (tomb.row % 64) & 1) --s.live_rows;
    (*live)[tomb.row / 64] &= ~(uint64_t{1} << (tomb.row % 64));
  }
  for (auto& [segment, live] : live_bits) next->segments[segment].live = std::move(live);
  // Segment files the catalog does not name are leftovers of a crash between
  // writing a file and committing it (or of a compaction): remove them.
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fs::path(dir_) / "segments", error)) {
    if (!known_files.contains(entry.path().filename().string())) fs::remove(entry.path(), error);
  }
  // Replay the acknowledged writes that were not sealed.
  const size_t code_size = codec_->code_size();
  const size_t vector_bytes = options_.keep_vectors ? options_.dim * sizeof(float) : 0;
  std::vector<int64_t> ids;
  std::vector<uint64_t> sequences;
  std::vector<uint8_t> codes;
  std::vector<float> vectors;
  for (const storage::PendingRow& row : contents.pending) {
    if (row.code.size() != code_size || row.vector.size() != vector_bytes) {
      return absl::DataLossError(absl::StrFormat(
          "%s/catalog: write-ahead record %d of id %d has a %d-byte code and %d-byte vector",
          dir_, row.sequence, row.id, row.code.size(), row.vector.size()));
    }
    ids.push_back(row.id);
    sequences.push_back(row.sequence);
    codes.insert(codes.end(), row.code.begin(), row.code.end());
    const size_t at = vectors.size();
    vectors.resize(at + vector_bytes / sizeof(float));
    if (vector_bytes > 0) std::memcpy(&vectors[at], row.vector.data(), vector_bytes);
  }
  AppendUnsealed(ids, codes, vectors, sequences, next.get());
  MergeSmallChunks(next.get());
  Publish(next);
  locations_built_ = false;
  locations_.clear();
  return absl::OkStatus();
}

}  // namespace turboquant
