// Open: rebuilding a collection's snapshot from its catalog and files; and
// Refresh, which does the same for a read-only open following a writer.
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "src/index/index_impl.h"

namespace turboquant {

using internal::Segment;
using internal::Snapshot;
using internal::SnapshotSegment;

namespace {

// How often a read-only open retries after losing a race with the writer.
constexpr int kCatchUpAttempts = 20;

}  // namespace

StatusOr<std::shared_ptr<Snapshot>> TurboQuantIndex::Impl::SnapshotFromCatalog(
    const storage::CatalogContents& contents,
    const absl::flat_hash_map<uint64_t, std::shared_ptr<const Segment>>& reuse) {
  auto next = std::make_shared<Snapshot>();
  absl::flat_hash_map<uint64_t, size_t> index_of_segment;
  for (const storage::SegmentRecord& record : contents.segments) {
    std::shared_ptr<const Segment> segment;
    if (auto it = reuse.find(record.segment_id); it != reuse.end()) {
      segment = it->second;
    } else {
      auto opened = OpenSealed(record.segment_id, record.rows);
      if (!opened.ok()) return opened.status();
      segment = std::move(*opened);
    }
    if (segment->rows() != record.rows) {
      return absl::DataLossError(
          absl::StrFormat("%s: segment %d holds %d rows, the catalog says %d", dir_,
                          record.segment_id, segment->rows(), record.rows));
    }
    index_of_segment[record.segment_id] = next->segments.size();
    next->segments.push_back({std::move(segment), nullptr, record.rows});
  }
  // Tombstones clear bits of one mutable bitmap per segment, frozen after.
  absl::flat_hash_map<size_t, std::shared_ptr<RowBitmap>> live_bits;
  for (const storage::Tombstone& tomb : contents.tombstones) {
    auto it = index_of_segment.find(tomb.segment_id);
    if (it == index_of_segment.end() || tomb.row >= next->segments[it->second].segment->rows()) {
      return absl::DataLossError(
          absl::StrFormat("%s/catalog: tombstone for segment %d row %d names no stored row", dir_,
                          tomb.segment_id, tomb.row));
    }
    SnapshotSegment& s = next->segments[it->second];
    auto& live = live_bits[it->second];
    if (live == nullptr) live = internal::MutableLive(nullptr, s.segment->rows());
    if (live->Test(tomb.row)) --s.live_rows;
    live->Clear(tomb.row);
  }
  for (auto& [segment, live] : live_bits) next->segments[segment].live = std::move(live);
  // Replay the acknowledged writes that were not sealed.
  const size_t code_size = codec_->code_size();
  const size_t vector_bytes = options_.keep_vectors ? options_.dim * sizeof(float) : 0;
  std::vector<int64_t> ids;
  std::vector<uint64_t> sequences;
  std::vector<uint8_t> codes;
  std::vector<float> vectors;
  storage::VectorsLogReader logs(fs_, VectorsDir());
  for (const storage::PendingRow& row : contents.pending) {
    if (row.sequence < contents.sealed_through) continue;  // sealed; deleted by Recover
    const bool in_log = row.vector_ref.log != 0;
    const bool vector_fits = in_log ? options_.keep_vectors : row.vector.size() == vector_bytes;
    if (row.code.size() != code_size || !vector_fits) {
      return absl::DataLossError(
          absl::StrFormat("%s/catalog: write-ahead record %d of id %d has a %d-byte code and %s",
                          dir_, row.sequence, row.id, row.code.size(),
                          in_log ? "a vector in the log without keep_vectors"
                                 : absl::StrFormat("a %d-byte vector", row.vector.size())));
    }
    ids.push_back(row.id);
    sequences.push_back(row.sequence);
    codes.insert(codes.end(), row.code.begin(), row.code.end());
    const size_t at = vectors.size();
    vectors.resize(at + vector_bytes / sizeof(float));
    char* out = reinterpret_cast<char*>(vectors.data() + at);
    if (in_log) {
      if (Status s = logs.Read(row.vector_ref, absl::MakeSpan(out, vector_bytes)); !s.ok()) {
        return s;
      }
      last_vectors_log_ = std::max(last_vectors_log_, row.vector_ref.log);
    } else if (vector_bytes > 0) {
      std::memcpy(out, row.vector.data(), vector_bytes);
    }
  }
  std::shared_ptr<const std::vector<float>> kept;
  if (!vectors.empty()) kept = std::make_shared<const std::vector<float>>(std::move(vectors));
  std::vector<internal::SegmentBuilder> chunks = BuildChunks(codes.data(), kept, ids.size());
  AppendUnsealed(ids, sequences, &chunks, next.get());
  MergeSmallChunks(next.get());
  return next;
}

StatusOr<std::shared_ptr<Snapshot>> TurboQuantIndex::Impl::LoadSnapshot(
    storage::CatalogContents contents) {
  absl::flat_hash_map<uint64_t, std::shared_ptr<const Segment>> reuse;
  for (const SnapshotSegment& s : Current()->segments) {
    if (s.segment->has_file()) reuse[s.segment->segment_id()] = s.segment;
  }
  for (int attempt = 1;; ++attempt) {
    auto next = SnapshotFromCatalog(contents, reuse);
    // A reader loses a race when the writer compacts between the catalog
    // read and the file opens (the writer removes files right after its
    // commit); caught up, the catalog no longer names them. A view that does
    // not hold together is read again too before it counts as damage.
    const bool racy = absl::IsNotFound(next.status()) || absl::IsDataLoss(next.status());
    if (next.ok() || !racy || !catalog_->read_only() || attempt == kCatchUpAttempts) {
      if (next.ok()) {
        next_segment_ = contents.next_segment;
        next_sequence_ = contents.next_sequence;
      }
      return next;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
    if (Status s = catalog_->CatchUp(&contents); !s.ok()) return s;
  }
}

void TurboQuantIndex::Impl::RemoveUnnamedFiles(const Snapshot& snapshot,
                                               const storage::CatalogContents& contents) const {
  absl::flat_hash_set<std::string> named;
  for (const SnapshotSegment& s : snapshot.segments) {
    if (s.segment->has_file()) named.insert(internal::SegmentFileName(s.segment->segment_id()));
  }
  // Leftovers of a crash between writing a file and committing it, of a
  // compaction, or temp files of an interrupted write.
  const std::string segments = dir_ + "/segments";
  for (const std::string& name : storage::ChildNames(*fs_, segments)) {
    if (!named.contains(name)) storage::RemoveFile(*fs_, segments + "/" + name).IgnoreError();
  }
  absl::flat_hash_set<uint64_t> referenced_logs;
  for (const storage::PendingRow& row : contents.pending) {
    if (row.sequence >= contents.sealed_through) referenced_logs.insert(row.vector_ref.log);
  }
  for (const std::string& name : storage::ChildNames(*fs_, VectorsDir())) {
    const uint64_t log = storage::VectorsLog::ParseFileName(name);
    if (!referenced_logs.contains(log)) {
      storage::RemoveFile(*fs_, VectorsDir() + "/" + name).IgnoreError();
    }
  }
}

Status TurboQuantIndex::Impl::Recover(const storage::CatalogContents& contents) {
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    locations_built_ = false;
    locations_.clear();
    auto next = LoadSnapshot(contents);
    if (!next.ok()) return next.status();
    Publish(*next);
    // Only once the whole collection validated, and never by a reader.
    if (catalog_->read_only()) return absl::OkStatus();
    RemoveUnnamedFiles(**next, contents);
  }
  // Records of a seal whose deletes a crash cut short.
  std::vector<uint64_t> sealed;
  for (const storage::PendingRow& row : contents.pending) {
    if (row.sequence < contents.sealed_through) sealed.push_back(row.sequence);
  }
  return DeleteSealedWriteAhead(sealed);
}

Status TurboQuantIndex::Impl::Refresh() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (catalog_ == nullptr || !catalog_->read_only()) return absl::OkStatus();
  storage::CatalogContents contents;
  if (Status s = catalog_->CatchUp(&contents); !s.ok()) return s;
  locations_built_ = false;
  locations_.clear();
  auto next = LoadSnapshot(std::move(contents));
  if (!next.ok()) return next.status();
  Publish(*next);
  return absl::OkStatus();
}

}  // namespace turboquant
