// The write path of TurboQuantIndex: Add, AddWithNewIds, Remove.
#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "src/index/index_impl.h"
#include "src/index/search_request.h"
#include "storage/checksum.h"

namespace turboquant {

using internal::kChunkRows;
using internal::KeptVectors;
using internal::Segment;
using internal::SegmentBuilder;
using internal::Snapshot;
using internal::SnapshotSegment;

// Bytes of a write-ahead record and its batch entry beyond the code: key,
// id, length, vector reference, varint lengths.
constexpr size_t kPendingRecordOverhead = 64;

size_t TurboQuantIndex::Impl::FirstUnsealed(const Snapshot& snapshot) const {
  size_t first = 0;
  while (first < snapshot.segments.size() && !snapshot.segments[first].segment->unsealed()) ++first;
  return first;
}

size_t TurboQuantIndex::Impl::SealedInsertPoint(const Snapshot& snapshot) const {
  size_t at = FirstUnsealed(snapshot);
  while (at > 0 && claimed_.contains(snapshot.segments[at - 1].segment.get())) --at;
  return at;
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
  writes_stopped_ = true;
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
    std::shared_ptr<internal::RowBitmap> live;
    for (const Location& location : rows) {
      if (location.segment != s.segment.get()) continue;
      if (live == nullptr) live = internal::MutableLive(s.live, s.segment->rows());
      live->Clear(location.row);
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

std::vector<SegmentBuilder> TurboQuantIndex::Impl::BuildChunks(
    const uint8_t* codes, const std::shared_ptr<const std::vector<float>>& vectors,
    size_t count) const {
  const size_t code_size = codec_->code_size();
  const size_t dim = static_cast<size_t>(options_.dim);
  std::vector<SegmentBuilder> chunks;
  for (size_t done = 0; done < count;) {
    const size_t take = std::min(count - done, kChunkRows);
    SegmentBuilder& chunk = chunks.emplace_back(*codec_);
    chunk.layout.Append(codes + done * code_size, take);
    if (vectors != nullptr) {
      chunk.vectors = KeptVectors(&(*vectors)[done * dim], take, dim, vectors);
    }
    done += take;
  }
  return chunks;
}

void TurboQuantIndex::Impl::AppendUnsealed(absl::Span<const int64_t> ids,
                                           absl::Span<const uint64_t> sequences,
                                           std::vector<SegmentBuilder>* chunks, Snapshot* next) {
  size_t done = 0;
  for (SegmentBuilder& chunk : *chunks) {
    const size_t take = chunk.layout.size();
    chunk.ids.assign(ids.begin() + done, ids.begin() + done + take);
    chunk.sequences.assign(sequences.begin() + done, sequences.begin() + done + take);
    next->segments.push_back({chunk.Build(options_.dim), nullptr, take});
    RecordLocations(*next->segments.back().segment, nullptr);
    done += take;
  }
}

void TurboQuantIndex::Impl::MergeSmallChunks(Snapshot* next) {
  if (tuning_.background_work) return;
  const size_t first = FirstSmallChunk(*next);
  if (next->segments.size() - first < internal::kChunksBeforeWriterMerges) return;
  SegmentBuilder merged(*codec_);
  for (size_t s = first; s < next->segments.size(); ++s) {
    merged.AppendLive(next->segments[s], /*keep_sequences=*/true);
  }
  next->segments.resize(first);
  const size_t rows = merged.ids.size();
  if (rows == 0) return;
  next->segments.push_back({merged.Build(options_.dim), nullptr, rows});
  RecordLocations(*next->segments.back().segment, nullptr);
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
  // Only the cosine metric encodes other values than the caller's.
  std::vector<float> normalized;
  absl::Span<const float> encoded = vectors;
  if (options_.metric == Metric::kCosine) {
    normalized.assign(vectors.begin(), vectors.end());
    internal::NormalizeRows(options_.dim, &normalized);
    encoded = normalized;
  }
  rows.codes.resize(rows.count * codec_->code_size());
  if (Status s = codec_->Encode(encoded, absl::MakeSpan(rows.codes)); !s.ok()) return s;
  // Kept vectors are the caller's own, so that Get returns what was added;
  // re-ranking normalizes them itself for the cosine metric.
  std::shared_ptr<const std::vector<float>> kept;
  if (options_.keep_vectors) {
    kept = std::make_shared<const std::vector<float>>(vectors.begin(), vectors.end());
  }
  rows.chunks = BuildChunks(rows.codes.data(), kept, rows.count);
  if (catalog_ != nullptr && options_.keep_vectors) {
    for (const SegmentBuilder& chunk : rows.chunks) {
      for (size_t row = 0; row < chunk.vectors.rows(); ++row) {
        rows.vector_crcs.push_back(storage::Crc32c(chunk.vectors.row(row), dim * sizeof(float)));
      }
    }
  }
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
  auto rows = EncodeAndLog(vectors);
  if (!rows.ok()) return rows.status();
  WriteRequest request;
  request.ids = ids;
  request.rows = &*rows;
  return SubmitWrite(&request);
}

StatusOr<int64_t> TurboQuantIndex::Impl::AddWithNewIds(absl::Span<const float> vectors) {
  auto rows = EncodeAndLog(vectors);
  if (!rows.ok()) return rows.status();
  WriteRequest request;
  request.rows = &*rows;
  request.new_ids = true;
  if (Status s = SubmitWrite(&request); !s.ok()) return s;
  return request.result;
}

StatusOr<int64_t> TurboQuantIndex::Impl::Remove(absl::Span<const int64_t> ids) {
  if (ids.size() > static_cast<size_t>(kMaxBatchRows)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "a batch of %d ids exceeds the limit of %d per call; split it", ids.size(), kMaxBatchRows));
  }
  WriteRequest request;
  request.ids = ids;
  if (Status s = SubmitWrite(&request); !s.ok()) return s;
  return request.result;
}

Status TurboQuantIndex::Impl::SubmitWrite(WriteRequest* request) {
  // A group stops growing at this many rows, so that one leader's batch
  // (and the latency of the calls queued behind it) stays bounded.
  constexpr size_t kMaxGroupRows = size_t{1} << 16;
  std::unique_lock<std::mutex> lock(queue_mutex_);
  queue_.push_back(request);
  queue_cv_.wait(lock, [&] { return request->done || queue_.front() == request; });
  if (request->done) return request->status;
  std::vector<WriteRequest*> group;
  size_t rows = 0;
  for (WriteRequest* queued : queue_) {
    const size_t n = queued->rows != nullptr ? queued->rows->count : queued->ids.size();
    if (!group.empty() && rows + n > kMaxGroupRows) break;
    group.push_back(queued);
    rows += n;
  }
  lock.unlock();
  CommitGroupOrStopWrites(group);
  lock.lock();
  for (size_t i = 0; i < group.size(); ++i) {
    queue_.front()->done = true;
    queue_.pop_front();
  }
  queue_cv_.notify_all();
  return request->status;
}

void TurboQuantIndex::Impl::CommitGroupOrStopWrites(absl::Span<WriteRequest* const> group) {
  try {
    CommitGroup(group);
  } catch (const std::exception& e) {
    // The id map and the catalog may be ahead of the published snapshot.
    std::lock_guard<std::mutex> lock(write_mutex_);
    StopWrites(internal::ExceptionStatus(e), "a write failed: ");
    locations_built_ = false;
    locations_.clear();
    for (WriteRequest* request : group) request->status = write_error_;
  }
}

void TurboQuantIndex::Impl::CommitGroup(absl::Span<WriteRequest* const> group) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (Status s = CheckWritable(); !s.ok()) {
    for (WriteRequest* request : group) request->status = s;
    return;
  }
  if (Status s = SyncGroupVectors(group); !s.ok()) {
    // A failed fsync leaves the log in an unknown state (fail-stop).
    StopWrites(s, "");
    for (WriteRequest* request : group) request->status = write_error_;
    return;
  }
  EnsureLocations();
  auto next = std::make_shared<Snapshot>(*Current());
  // Sized once: a batch of 8,000 768-d codes grew by reallocation to 3 MB.
  size_t added_rows = 0;
  for (const WriteRequest* request : group) {
    if (request->rows != nullptr) added_rows += request->rows->count;
  }
  rocksdb::WriteBatch batch(added_rows * (codec_->code_size() + kPendingRecordOverhead));
  for (WriteRequest* request : group) {
    if (request->rows != nullptr) {
      StageAdd(request, next.get(), &batch);
    } else {
      StageRemove(request, next.get(), &batch);
    }
  }
  if (catalog_ != nullptr) {
    batch.Put(storage::Catalog::kNextSequenceKey, storage::Catalog::EncodeCounter(next_sequence_));
  }
  if (Status s = WriteCatalog(&batch); !s.ok()) {
    // The id map already holds the group's changes, the published snapshot
    // does not: writes are stopped now, and the map is rebuilt from the
    // snapshot if the index is asked for it again.
    locations_built_ = false;
    locations_.clear();
    for (WriteRequest* request : group) request->status = s;
    return;
  }
  MergeSmallChunks(next.get());
  Publish(next);
  WakeBackgroundIfDue(*next);
}

void TurboQuantIndex::Impl::StageAdd(WriteRequest* request, Snapshot* next,
                                     rocksdb::WriteBatch* batch) {
  EncodedRows& rows = *request->rows;
  std::vector<int64_t> new_ids;
  if (request->new_ids) {
    // Ids left after the largest (2^63 when the index is empty).
    const uint64_t room = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) -
                          static_cast<uint64_t>(largest_id_);
    if (room == 0 || room < rows.count) {
      request->status = absl::OutOfRangeError(
          absl::StrFormat("no new ids left for %d vectors after the largest id in the index, %d",
                          rows.count, largest_id_));
      return;
    }
    request->result = largest_id_ + 1;
    new_ids.resize(rows.count);
    for (size_t i = 0; i < rows.count; ++i) new_ids[i] = request->result + static_cast<int64_t>(i);
  }
  const absl::Span<const int64_t> ids =
      request->new_ids ? absl::MakeConstSpan(new_ids) : request->ids;
  std::vector<Location> replaced;
  for (int64_t id : ids) {
    if (auto it = locations_.find(id); it != locations_.end()) replaced.push_back(it->second);
  }
  DeleteRows(replaced, next, batch);
  const uint64_t first_sequence = next_sequence_;
  next_sequence_ += ids.size();
  std::vector<uint64_t> sequences(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) sequences[i] = first_sequence + i;
  if (catalog_ != nullptr) {
    const size_t code_size = codec_->code_size();
    const size_t vector_bytes = options_.dim * sizeof(float);
    for (size_t i = 0; i < ids.size(); ++i) {
      storage::PendingRow row;
      row.id = ids[i];
      row.code.assign(reinterpret_cast<const char*>(&rows.codes[i * code_size]), code_size);
      if (!rows.vector_crcs.empty()) {
        row.vector_ref = {rows.log->number(), rows.log_offset + i * vector_bytes,
                          rows.vector_crcs[i]};
      }
      batch->Put(storage::Catalog::PendingKey(sequences[i]), storage::Catalog::EncodePending(row));
    }
  }
  AppendUnsealed(ids, sequences, &rows.chunks, next);
}

StatusOr<TurboQuantIndex::Impl::EncodedRows> TurboQuantIndex::Impl::EncodeAndLog(
    absl::Span<const float> vectors) {
  auto rows = Encode(vectors);
  if (!rows.ok()) return rows.status();
  if (catalog_ == nullptr || !options_.keep_vectors || rows->count == 0) return rows;
  if (catalog_->read_only() || writes_stopped_) {
    std::lock_guard<std::mutex> lock(write_mutex_);
    return CheckWritable();
  }
  Status appended;
  try {
    appended = AppendVectors(&*rows);
  } catch (const std::exception& e) {
    appended = internal::ExceptionStatus(e);  // memory ran out: as a failed write
  }
  if (!appended.ok()) {
    std::lock_guard<std::mutex> lock(write_mutex_);
    StopWrites(appended, "");
    return write_error_;
  }
  return rows;
}

Status TurboQuantIndex::Impl::AppendVectors(EncodedRows* rows) {
  // Each chunk's runs in order, so that the rows' vectors lie back to back.
  std::vector<absl::Span<const char>> parts;
  for (const SegmentBuilder& chunk : rows->chunks) {
    for (const absl::Span<const float> run : chunk.vectors.Spans()) {
      parts.emplace_back(reinterpret_cast<const char*>(run.data()), run.size() * sizeof(float));
    }
  }
  auto log = CurrentVectorsLog();
  if (!log.ok()) return log.status();
  auto offset = (*log)->Append(parts);
  if (!offset.ok()) return offset.status();
  rows->log = std::move(*log);
  rows->log_offset = *offset;
  return absl::OkStatus();
}

StatusOr<std::shared_ptr<storage::VectorsLog>> TurboQuantIndex::Impl::CurrentVectorsLog() {
  std::lock_guard<std::mutex> lock(vectors_log_mutex_);
  if (vectors_log_ != nullptr) return vectors_log_;
  if (Status s = storage::CreateDirectoryIfMissing(*fs_, VectorsDir(), dir_); !s.ok()) return s;
  auto log = storage::VectorsLog::Create(fs_, VectorsDir(), last_vectors_log_ + 1);
  if (!log.ok()) return log.status();
  vectors_log_ = std::move(*log);
  last_vectors_log_ = vectors_log_->number();
  return vectors_log_;
}

Status TurboQuantIndex::Impl::SyncGroupVectors(absl::Span<WriteRequest* const> group) {
  std::shared_ptr<storage::VectorsLog> log;
  for (WriteRequest* request : group) {
    EncodedRows* rows = request->rows;
    if (rows == nullptr || rows->log == nullptr) continue;
    // No seal can claim rows while the leader holds write_mutex_, so the
    // current log stays the one every request of the group ends up in.
    {
      std::lock_guard<std::mutex> lock(vectors_log_mutex_);
      log = vectors_log_;
    }
    if (rows->log != log) {
      if (Status s = AppendVectors(rows); !s.ok()) return s;
      log = rows->log;
    }
  }
  if (log == nullptr) return absl::OkStatus();
  if (Status s = log->Sync(); !s.ok()) return s;
  // From now on the chunks read their vectors from the log, and the copy
  // they were written from is freed with the request.
  const size_t row_bytes = options_.dim * sizeof(float);
  for (WriteRequest* request : group) {
    if (request->rows == nullptr || request->rows->log == nullptr) continue;
    uint64_t offset = request->rows->log_offset;
    for (SegmentBuilder& chunk : request->rows->chunks) {
      const size_t bytes = chunk.vectors.rows() * row_bytes;
      auto runs = log->Map(offset, bytes, row_bytes);
      if (!runs.ok()) return runs.status();
      offset += bytes;
      KeptVectors mapped;
      for (storage::MappedRun& run : *runs) {
        mapped.Append(reinterpret_cast<const float*>(run.data), run.size / row_bytes, options_.dim,
                      std::move(run.owner));
      }
      chunk.vectors = std::move(mapped);
    }
  }
  return absl::OkStatus();
}

void TurboQuantIndex::Impl::RemoveVectorsLogs(uint64_t upto) const {
  for (const std::string& name : storage::ChildNames(*fs_, VectorsDir())) {
    const uint64_t number = storage::VectorsLog::ParseFileName(name);
    if (number != 0 && number <= upto) {
      storage::RemoveFile(*fs_, VectorsDir() + "/" + name).IgnoreError();
    }
  }
}

void TurboQuantIndex::Impl::StageRemove(WriteRequest* request, Snapshot* next,
                                        rocksdb::WriteBatch* batch) {
  std::vector<Location> rows;
  absl::flat_hash_set<int64_t> seen;
  for (int64_t id : request->ids) {
    auto it = locations_.find(id);
    if (it != locations_.end() && seen.insert(id).second) rows.push_back(it->second);
  }
  DeleteRows(rows, next, batch);
  for (int64_t id : seen) locations_.erase(id);
  request->result = static_cast<int64_t>(rows.size());
}

}  // namespace turboquant
