// The write path of TurboQuantIndex: Add, AddWithNewIds, Remove.
#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "src/index/index_impl.h"
#include "src/index/search_request.h"

namespace turboquant {

using internal::AllLive;
using internal::kChunkRows;
using internal::kChunksPerMerge;
using internal::Segment;
using internal::SegmentBuilder;
using internal::Snapshot;
using internal::SnapshotSegment;

size_t TurboQuantIndex::Impl::FirstUnsealed(const Snapshot& snapshot) const {
  size_t first = 0;
  while (first < snapshot.segments.size() && !snapshot.segments[first].segment->unsealed()) ++first;
  return first;
}

void TurboQuantIndex::Impl::EnsureLocations() {
  if (locations_built_) return;
  const std::shared_ptr<const Snapshot> current = Current();
  locations_.reserve(static_cast<size_t>(current->live_count()));
  largest_id_ = -1;
  for (const SnapshotSegment& s : current->segments) {
    for (size_t row = 0; row < s.segment->rows(); ++row) {
      if (internal::IsLive(s.live, row)) {
        locations_[s.segment->id(row)] = {s.segment.get(), row};
        largest_id_ = std::max(largest_id_, s.segment->id(row));
      }
    }
  }
  locations_built_ = true;
}

Status TurboQuantIndex::Impl::CheckWritable() const {
  if (catalog_ != nullptr && catalog_->read_only()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: the collection was opened read-only", dir_));
  }
  return write_error_;
}

void TurboQuantIndex::Impl::StopWrites(const Status& cause, absl::string_view what) {
  if (!write_error_.ok()) return;  // the first cause is the one to report
  write_error_ = absl::Status(
      cause.code(), absl::StrCat(what, cause.message(),
                                 " (the collection accepts no more writes until it is reopened)"));
}

Status TurboQuantIndex::Impl::WriteCatalog(rocksdb::WriteBatch* batch) {
  if (catalog_ == nullptr) return absl::OkStatus();
  Status status = catalog_->Write(batch);
  if (!status.ok()) StopWrites(status, "");
  return status;
}

Status TurboQuantIndex::Impl::CheckBatchIds(absl::Span<const int64_t> ids) const {
  if (ids.size() > static_cast<size_t>(kMaxBatchRows)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a batch of %d ids exceeds the limit of %d per call; split it", ids.size(), kMaxBatchRows));
  }
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
        live =
            std::make_shared<std::vector<uint64_t>>(s.live ? *s.live : *AllLive(s.segment->rows()));
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
        chunk->vectors.assign(last.vector(0, options_.dim),
                              last.vector(0, options_.dim) + last.rows() * dim);
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

StatusOr<TurboQuantIndex::Impl::EncodedRows> TurboQuantIndex::Impl::Encode(
    absl::Span<const float> vectors) const {
  const size_t dim = static_cast<size_t>(options_.dim);
  if (vectors.size() % dim != 0 || vectors.size() / dim > static_cast<size_t>(kMaxBatchRows)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d floats are not a whole number of %d-dimensional rows, or more than %d rows",
        vectors.size(), dim, kMaxBatchRows));
  }
  EncodedRows rows;
  rows.count = vectors.size() / dim;
  std::vector<float> prepared(vectors.begin(), vectors.end());
  if (options_.metric == Metric::kCosine) internal::NormalizeRows(options_.dim, &prepared);
  rows.codes.resize(rows.count * codec_->code_size());
  if (Status s = codec_->Encode(prepared, absl::MakeSpan(rows.codes)); !s.ok()) return s;
  // Kept vectors are the caller's own, so that Get returns what was added;
  // re-ranking normalizes them itself for the cosine metric.
  if (options_.keep_vectors) rows.vectors.assign(vectors.begin(), vectors.end());
  return rows;
}

Status TurboQuantIndex::Impl::Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors) {
  const size_t dim = static_cast<size_t>(options_.dim);
  if (Status s = CheckBatchIds(ids); !s.ok()) return s;
  if (vectors.size() != ids.size() * dim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("Add got %d ids but %d floats; expected %d (ids x dimension %d)",
                        ids.size(), vectors.size(), ids.size() * dim, dim));
  }
  // Encoding depends on the codec alone: no lock needed.
  auto rows = Encode(vectors);
  if (!rows.ok()) return rows.status();
  std::lock_guard<std::mutex> lock(write_mutex_);
  return CommitRows(ids, *rows);
}

StatusOr<int64_t> TurboQuantIndex::Impl::AddWithNewIds(absl::Span<const float> vectors) {
  auto rows = Encode(vectors);
  if (!rows.ok()) return rows.status();
  std::lock_guard<std::mutex> lock(write_mutex_);
  EnsureLocations();
  // Ids left after the largest (2^63 when the index is empty).
  const uint64_t room = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) -
                        static_cast<uint64_t>(largest_id_);
  if (room == 0 || room < rows->count) {
    return absl::OutOfRangeError(
        absl::StrFormat("no new ids left for %d vectors after the largest id in the index, %d",
                        rows->count, largest_id_));
  }
  const int64_t first = largest_id_ + 1;
  std::vector<int64_t> ids(rows->count);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = first + static_cast<int64_t>(i);
  if (Status s = CommitRows(ids, *rows); !s.ok()) return s;
  return first;
}

Status TurboQuantIndex::Impl::CommitRows(absl::Span<const int64_t> ids, const EncodedRows& rows) {
  if (Status s = CheckWritable(); !s.ok()) return s;
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
    const size_t vector_bytes = options_.dim * sizeof(float);
    for (size_t i = 0; i < ids.size(); ++i) {
      storage::PendingRow row;
      row.id = ids[i];
      row.code.assign(reinterpret_cast<const char*>(&rows.codes[i * code_size]), code_size);
      if (!rows.vectors.empty()) {
        row.vector.assign(reinterpret_cast<const char*>(rows.vectors.data()) + i * vector_bytes,
                          vector_bytes);
      }
      batch.Put(storage::Catalog::PendingKey(first_sequence + i),
                storage::Catalog::EncodePending(row));
    }
    batch.Put(storage::Catalog::kNextSequenceKey,
              storage::Catalog::EncodeCounter(first_sequence + ids.size()));
  }
  if (Status s = WriteCatalog(&batch); !s.ok()) return s;
  next_sequence_ += ids.size();
  std::vector<uint64_t> sequences(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) sequences[i] = first_sequence + i;
  AppendUnsealed(ids, rows.codes, rows.vectors, sequences, next.get());
  MergeSmallChunks(next.get());
  Publish(next);
  SealIfFull();
  return absl::OkStatus();
}

void TurboQuantIndex::Impl::SealIfFull() {
  const std::shared_ptr<const Snapshot> current = Current();
  const size_t first_unsealed = FirstUnsealed(*current);
  int64_t unsealed = 0;
  for (size_t s = first_unsealed; s < current->segments.size(); ++s) {
    unsealed += static_cast<int64_t>(current->segments[s].segment->rows());
  }
  if (unsealed < tuning_.seal_rows) return;
  if (Status s = Rewrite(first_unsealed); !s.ok()) StopWrites(s, "sealing failed: ");
}

StatusOr<int64_t> TurboQuantIndex::Impl::Remove(absl::Span<const int64_t> ids) {
  if (ids.size() > static_cast<size_t>(kMaxBatchRows)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a batch of %d ids exceeds the limit of %d per call; split it", ids.size(), kMaxBatchRows));
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (Status s = CheckWritable(); !s.ok()) return s;
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
  if (Status s = WriteCatalog(&batch); !s.ok()) return s;
  for (int64_t id : seen) locations_.erase(id);
  Publish(next);
  return static_cast<int64_t>(rows.size());
}

}  // namespace turboquant
