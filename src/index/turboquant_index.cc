// TurboQuantIndex: snapshots of segments, the write path and, for durable
// collections, the catalog and segment files (ARCHITECTURE.md section 6).
//
// Writers are serialized by write_mutex_ and publish a new immutable Snapshot
// after every change; searches copy the current snapshot pointer and run
// without locks, so they never wait for a writer (nor see half a write).
#include "turboquant/index.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "src/index/search_request.h"
#include "src/index/snapshot_search.h"
#include "storage/catalog.h"
#include "storage/file_util.h"

namespace turboquant {

using internal::LiveRows;
using internal::Segment;
using internal::Snapshot;
using internal::SnapshotSegment;
namespace fs = std::filesystem;

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kInnerProduct:
      return "ip";
    case Metric::kCosine:
      return "cosine";
    case Metric::kL2:
      return "l2";
  }
  return "unknown";
}

StatusOr<Metric> ParseMetric(const std::string& name) {
  if (name == "ip") return Metric::kInnerProduct;
  if (name == "cosine") return Metric::kCosine;
  if (name == "l2") return Metric::kL2;
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown metric '%s': expected 'ip', 'cosine' or 'l2'", name));
}

namespace {

// Unsealed rows are kept in chunks of at most this many rows; an Add copies
// only the last chunk, so small writes stay cheap while snapshots stay
// immutable.
constexpr size_t kChunkRows = 16384;
// Every scanned segment costs a little per query (table setup, a candidate
// list to merge), so this many small chunks are merged into one larger
// unsealed segment: a logarithmic number of segments without sealing early.
constexpr size_t kChunksPerMerge = 8;

std::string SegmentPath(const std::string& dir, uint64_t segment_id) {
  return (fs::path(dir) / "segments" / absl::StrFormat("%016x.tqs", segment_id)).string();
}

// Rows of a new or copied in-memory segment, before it is frozen.
struct SegmentBuilder {
  const size_t code_size;
  internal::ScanLayout layout;
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  std::vector<uint64_t> sequences;

  explicit SegmentBuilder(const Codec& codec) : code_size(codec.code_size()), layout(codec) {}

  // Appends the live rows of `from`.
  void AppendLive(const SnapshotSegment& from, int dim, bool keep_sequences) {
    const Segment& segment = *from.segment;
    std::vector<uint8_t> code(code_size);
    for (size_t row = 0; row < segment.rows(); ++row) {
      if (!internal::IsLive(from.live, row)) continue;
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

LiveRows AllLive(size_t rows) {
  auto bitmap = std::make_shared<std::vector<uint64_t>>((rows + 63) / 64, ~uint64_t{0});
  return bitmap;
}

}  // namespace

class TurboQuantIndex::Impl {
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

size_t TurboQuantIndex::Impl::FirstUnsealed(const Snapshot& snapshot) const {
  size_t first = 0;
  while (first < snapshot.segments.size() && !snapshot.segments[first].segment->unsealed()) ++first;
  return first;
}

void TurboQuantIndex::Impl::EnsureLocations() {
  if (locations_built_) return;
  const std::shared_ptr<const Snapshot> current = Current();
  locations_.reserve(static_cast<size_t>(current->live_count()));
  for (const SnapshotSegment& s : current->segments) {
    for (size_t row = 0; row < s.segment->rows(); ++row) {
      if (internal::IsLive(s.live, row)) {
        locations_[s.segment->id(row)] = {s.segment.get(), static_cast<uint32_t>(row)};
      }
    }
  }
  locations_built_ = true;
}

Status TurboQuantIndex::Impl::CheckBatchIds(absl::Span<const int64_t> ids) const {
  absl::flat_hash_set<int64_t> seen;
  seen.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("id %d at position %d is negative; ids must be >= 0", ids[i], i));
    }
    if (!seen.insert(ids[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrFormat("id %d appears more than once in this Add (position %d)", ids[i], i));
    }
  }
  return absl::OkStatus();
}

void TurboQuantIndex::Impl::DeleteRows(const std::vector<Location>& rows, Snapshot* next,
                                       rocksdb::WriteBatch* batch) {
  for (SnapshotSegment& s : next->segments) {
    std::shared_ptr<std::vector<uint64_t>> live;
    for (const Location& location : rows) {
      if (location.segment != s.segment.get()) continue;
      if (live == nullptr) {
        live = std::make_shared<std::vector<uint64_t>>(s.live ? *s.live
                                                              : *AllLive(s.segment->rows()));
      }
      (*live)[location.row / 64] &= ~(uint64_t{1} << (location.row % 64));
      --s.live_rows;
      if (s.segment->has_file()) {
        batch->Put(storage::Catalog::TombstoneKey(s.segment->segment_id(), location.row), "");
      } else if (s.segment->unsealed()) {
        batch->Delete(storage::Catalog::PendingKey(s.segment->sequence(location.row)));
      }
    }
    if (live != nullptr) s.live = std::move(live);
  }
}

void TurboQuantIndex::Impl::AppendUnsealed(absl::Span<const int64_t> ids,
                                           const std::vector<uint8_t>& codes,
                                           const std::vector<float>& vectors,
                                           absl::Span<const uint64_t> sequences, Snapshot* next) {
  const size_t code_size = codec_->code_size();
  const size_t dim = static_cast<size_t>(options_.dim);
  size_t done = 0;
  while (done < ids.size()) {
    // Continue the last chunk when it has room (copying it: snapshots are
    // immutable), else start a new one.
    std::unique_ptr<SegmentBuilder> chunk = std::make_unique<SegmentBuilder>(*codec_);
    const bool extend = !next->segments.empty() && next->segments.back().segment->unsealed() &&
                        next->segments.back().segment->rows() < kChunkRows &&
                        next->segments.back().live == nullptr;
    if (extend) {
      const Segment& last = *next->segments.back().segment;
      chunk->layout = last.layout().Clone();
      chunk->ids.assign(last.ids().begin(), last.ids().end());
      if (last.vector(0, options_.dim) != nullptr) {
        chunk->vectors.assign(last.vector(0, options_.dim), last.vector(0, options_.dim) + last.rows() * dim);
      }
      for (size_t row = 0; row < last.rows(); ++row) chunk->sequences.push_back(last.sequence(row));
      next->segments.pop_back();
    }
    const size_t take = std::min(ids.size() - done, kChunkRows - chunk->ids.size());
    chunk->layout.Append(&codes[done * code_size], take);
    for (size_t i = done; i < done + take; ++i) {
      chunk->ids.push_back(ids[i]);
      chunk->sequences.push_back(sequences[i]);
    }
    if (!vectors.empty()) {
      chunk->vectors.insert(chunk->vectors.end(), vectors.begin() + done * dim,
                            vectors.begin() + (done + take) * dim);
    }
    done += take;
    const size_t rows = chunk->ids.size();
    next->segments.push_back({chunk->Build(), nullptr, rows});
    RecordLocations(*next->segments.back().segment);
  }
}

void TurboQuantIndex::Impl::MergeSmallChunks(Snapshot* next) {
  size_t first = next->segments.size();
  while (first > 0 && next->segments[first - 1].segment->unsealed() &&
         next->segments[first - 1].segment->rows() <= kChunkRows) {
    --first;
  }
  if (next->segments.size() - first < kChunksPerMerge) return;
  SegmentBuilder merged(*codec_);
  for (size_t s = first; s < next->segments.size(); ++s) {
    merged.AppendLive(next->segments[s], options_.dim, /*keep_sequences=*/true);
  }
  next->segments.resize(first);
  const size_t rows = merged.ids.size();
  if (rows == 0) return;
  next->segments.push_back({merged.Build(), nullptr, rows});
  RecordLocations(*next->segments.back().segment);
}

Status TurboQuantIndex::Impl::Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors) {
  const size_t dim = static_cast<size_t>(options_.dim);
  if (vectors.size() != ids.size() * dim) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Add got %d ids but %d floats; expected %d (ids x dimension %d)", ids.size(),
        vectors.size(), ids.size() * dim, dim));
  }
  if (Status s = CheckBatchIds(ids); !s.ok()) return s;
  std::vector<float> prepared(vectors.begin(), vectors.end());
  if (options_.metric == Metric::kCosine) internal::NormalizeRows(options_.dim, &prepared);
  // Encoding depends on the codec alone: no lock needed.
  std::vector<uint8_t> codes(ids.size() * codec_->code_size());
  if (Status s = codec_->Encode(prepared, absl::MakeSpan(codes)); !s.ok()) return s;
  if (!options_.keep_vectors) prepared.clear();

  std::lock_guard<std::mutex> lock(write_mutex_);
  EnsureLocations();
  std::vector<Location> replaced;
  for (int64_t id : ids) {
    if (auto it = locations_.find(id); it != locations_.end()) replaced.push_back(it->second);
  }
  auto next = std::make_shared<Snapshot>(*Current());
  rocksdb::WriteBatch batch;
  DeleteRows(replaced, next.get(), &batch);
  const uint64_t first_sequence = next_sequence_;
  if (catalog_ != nullptr) {
    const size_t code_size = codec_->code_size();
    for (size_t i = 0; i < ids.size(); ++i) {
      storage::PendingRow row;
      row.id = ids[i];
      row.code.assign(reinterpret_cast<const char*>(&codes[i * code_size]), code_size);
      if (!prepared.empty()) {
        row.vector.assign(reinterpret_cast<const char*>(&prepared[i * dim]), dim * sizeof(float));
      }
      batch.Put(storage::Catalog::PendingKey(first_sequence + i), storage::Catalog::EncodePending(row));
    }
    batch.Put(storage::Catalog::kNextSequenceKey,
              storage::Catalog::EncodeCounter(first_sequence + ids.size()));
  }
  if (Status s = Write(&batch); !s.ok()) return s;
  next_sequence_ += ids.size();
  std::vector<uint64_t> sequences(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) sequences[i] = first_sequence + i;
  AppendUnsealed(ids, codes, prepared, sequences, next.get());
  MergeSmallChunks(next.get());
  Publish(next);
  const size_t first_unsealed = FirstUnsealed(*next);
  int64_t unsealed = 0;
  for (size_t s = first_unsealed; s < next->segments.size(); ++s) {
    unsealed += static_cast<int64_t>(next->segments[s].segment->rows());
  }
  return unsealed >= tuning_.seal_rows ? Rewrite(first_unsealed) : absl::OkStatus();
}

StatusOr<int64_t> TurboQuantIndex::Impl::Remove(absl::Span<const int64_t> ids) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  EnsureLocations();
  std::vector<Location> rows;
  absl::flat_hash_set<int64_t> seen;
  for (int64_t id : ids) {
    auto it = locations_.find(id);
    if (it != locations_.end() && seen.insert(id).second) rows.push_back(it->second);
  }
  if (rows.empty()) return 0;
  auto next = std::make_shared<Snapshot>(*Current());
  rocksdb::WriteBatch batch;
  DeleteRows(rows, next.get(), &batch);
  if (Status s = Write(&batch); !s.ok()) return s;
  for (int64_t id : seen) locations_.erase(id);
  Publish(next);
  return static_cast<int64_t>(rows.size());
}

StatusOr<std::vector<float>> TurboQuantIndex::Impl::Get(int64_t id) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  EnsureLocations();
  auto it = locations_.find(id);
  if (it == locations_.end()) return absl::NotFoundError(absl::StrFormat("id %d is not in the index", id));
  const Segment& segment = *it->second.segment;
  std::vector<float> vector(options_.dim);
  if (const float* original = segment.vector(it->second.row, options_.dim)) {
    std::copy(original, original + options_.dim, vector.begin());
    return vector;
  }
  std::vector<uint8_t> code(codec_->code_size());
  segment.layout().ExtractCode(it->second.row, code.data());
  codec_->DecodeOne(code.data(), vector.data());
  return vector;
}

bool TurboQuantIndex::Impl::Contains(int64_t id) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  EnsureLocations();
  return locations_.contains(id);
}

StatusOr<SearchResults> TurboQuantIndex::Impl::Search(absl::Span<const float> queries,
                                                      const SearchParams& params) const {
  const std::shared_ptr<const Snapshot> snapshot = Current();
  auto request = internal::MakeSearchRequest(options_, snapshot->live_count(), queries, params);
  if (!request.ok()) return request.status();
  return internal::SearchSnapshot(*snapshot, *codec_, options_, *request, params.allowed_ids);
}

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

Status TurboQuantIndex::Impl::Verify() const {
  const std::shared_ptr<const Snapshot> current = Current();
  for (const SnapshotSegment& s : current->segments) {
    if (!s.segment->has_file()) continue;
    const storage::SegmentFile& file = *s.segment->file();
    std::error_code error;
    const uintmax_t size = fs::file_size(file.path(), error);
    if (error || size != file.file_bytes()) {
      return absl::DataLossError(absl::StrFormat(
          "%s: segment file is missing or was changed (%d bytes mapped, %s on disk)", file.path(),
          file.file_bytes(), error ? error.message() : std::to_string(size) + " bytes"));
    }
    if (Status status = file.VerifyChecksums(); !status.ok()) return status;
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  return catalog_ ? catalog_->VerifyChecksums() : absl::OkStatus();
}

Status TurboQuantIndex::Impl::Backup(const std::string& dir) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (catalog_ == nullptr) return absl::FailedPreconditionError("an in-memory index has no files to back up");
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return absl::AlreadyExistsError(absl::StrFormat("%s: backup target exists and is not empty", dir));
  }
  fs::create_directories(fs::path(dir) / "segments", error);
  if (error) return absl::InternalError(absl::StrFormat("%s: %s", dir, error.message()));
  for (const SnapshotSegment& s : Current()->segments) {
    if (!s.segment->has_file()) continue;
    const fs::path from = s.segment->file()->path();
    const fs::path to = fs::path(dir) / "segments" / from.filename();
    fs::create_hard_link(from, to, error);
    if (error) fs::copy_file(from, to, error);  // another file system
    if (error) return absl::InternalError(absl::StrFormat("%s: %s", to.string(), error.message()));
  }
  return catalog_->Checkpoint((fs::path(dir) / "catalog").string());
}

IndexStats TurboQuantIndex::Impl::Stats() const {
  const std::shared_ptr<const Snapshot> current = Current();
  IndexStats stats;
  stats.bytes_per_vector = codec_->code_size();
  for (const SnapshotSegment& s : current->segments) {
    stats.count += static_cast<int64_t>(s.live_rows);
    stats.deleted += static_cast<int64_t>(s.segment->rows() - s.live_rows);
    stats.segments += 1;
    stats.code_bytes += s.segment->layout().memory_bytes();
    if (s.segment->vector(0, options_.dim) != nullptr) {
      stats.vector_bytes += s.segment->rows() * options_.dim * sizeof(float);
    }
    if (s.segment->has_file()) stats.bytes_on_disk += s.segment->file()->file_bytes();
    if (s.segment->unsealed()) stats.unsealed += static_cast<int64_t>(s.segment->rows());
  }
  if (!dir_.empty()) {
    std::error_code error;
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(dir_) / "catalog", error)) {
      if (entry.is_regular_file(error)) stats.bytes_on_disk += entry.file_size(error);
    }
  }
  return stats;
}

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

namespace {

StatusOr<std::unique_ptr<Codec>> MakeCodec(const IndexOptions& options) {
  CodecOptions codec_options;
  codec_options.dim = options.dim;
  codec_options.bits = options.bits;
  codec_options.seed = options.seed;
  return Codec::Create(options.codec, codec_options);
}

}  // namespace

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Create(const IndexOptions& options) {
  auto codec = MakeCodec(options);
  if (!codec.ok()) return codec.status();
  return std::unique_ptr<TurboQuantIndex>(new TurboQuantIndex(
      std::make_unique<Impl>(options, CollectionOptions(), std::move(*codec), "", nullptr)));
}

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Create(const std::string& dir,
                                                                   const IndexOptions& options,
                                                                   const CollectionOptions& tuning) {
  if (auto codec = MakeCodec(options); !codec.ok()) return codec.status();
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return absl::AlreadyExistsError(absl::StrFormat(
        "%s: directory exists and is not empty; open it, or choose a new directory", dir));
  }
  // Built under a temporary name and renamed into place, so that a crash
  // never leaves a half-created collection under the real name.
  fs::path target = fs::absolute(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "dir/"
  const fs::path staging = target.string() + ".creating";
  fs::remove_all(staging, error);
  fs::create_directories(staging / "segments", error);
  if (error) return absl::InternalError(absl::StrFormat("%s: %s", staging.string(), error.message()));
  if (auto catalog = storage::Catalog::Create((staging / "catalog").string(), options); !catalog.ok()) {
    return catalog.status();
  }
  fs::remove(target, error);  // an empty directory may stand in the way
  fs::rename(staging, target, error);
  if (error) return absl::InternalError(absl::StrFormat("%s: %s", dir, error.message()));
  if (Status s = storage::SyncDirectory(target.parent_path().string()); !s.ok()) return s;
  return Open(dir, tuning);
}

StatusOr<std::unique_ptr<TurboQuantIndex>> TurboQuantIndex::Open(const std::string& dir,
                                                                 const CollectionOptions& tuning) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrFormat("%s: no such directory", dir));
  }
  if (!fs::is_directory(fs::path(dir) / "catalog", error) ||
      !fs::is_directory(fs::path(dir) / "segments", error)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: not a TurboQuant collection (expected catalog/ and segments/ inside)", dir));
  }
  storage::CatalogContents contents;
  auto catalog = storage::Catalog::Open((fs::path(dir) / "catalog").string(), &contents);
  if (!catalog.ok()) return catalog.status();
  auto codec = MakeCodec(contents.options);
  if (!codec.ok()) return absl::DataLossError(absl::StrFormat("%s/catalog: %s", dir, codec.status().message()));
  auto impl = std::make_unique<Impl>(contents.options, tuning, std::move(*codec), dir,
                                     std::move(*catalog));
  if (Status s = impl->Recover(contents); !s.ok()) return s;
  return std::unique_ptr<TurboQuantIndex>(new TurboQuantIndex(std::move(impl)));
}

TurboQuantIndex::TurboQuantIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TurboQuantIndex::~TurboQuantIndex() = default;

Status TurboQuantIndex::Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors) {
  return impl_->Add(ids, vectors);
}
StatusOr<int64_t> TurboQuantIndex::Remove(absl::Span<const int64_t> ids) { return impl_->Remove(ids); }
StatusOr<std::vector<float>> TurboQuantIndex::Get(int64_t id) const { return impl_->Get(id); }
StatusOr<SearchResults> TurboQuantIndex::Search(absl::Span<const float> queries,
                                                const SearchParams& params) const {
  return impl_->Search(queries, params);
}
bool TurboQuantIndex::Contains(int64_t id) const { return impl_->Contains(id); }
int64_t TurboQuantIndex::size() const { return impl_->size(); }
const IndexOptions& TurboQuantIndex::options() const { return impl_->options(); }
IndexStats TurboQuantIndex::Stats() const { return impl_->Stats(); }
Status TurboQuantIndex::Flush() { return impl_->Flush(); }
Status TurboQuantIndex::Compact() { return impl_->Compact(); }
Status TurboQuantIndex::Verify() const { return impl_->Verify(); }
Status TurboQuantIndex::Backup(const std::string& dir) const { return impl_->Backup(dir); }

}  // namespace turboquant
