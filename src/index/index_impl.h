// The state behind TurboQuantIndex, shared by the files that implement it:
//   write_path.cc    Add, AddWithNewIds, Remove
//   bulk_load.cc     BulkLoad
//   read_path.cc     Get, Contains, Search
//   seal.cc          sealing unsealed rows and compaction (Rewrite)
//   recovery.cc      Open's replay of the catalog, and Refresh of read-only opens
//   backup.cc        Backup from a snapshot
//   maintenance.cc   Verify, Stats
//   turboquant_index.cc  Create/Open and the public forwarding
//
// Writes are group-committed (LevelDB's writer queue): Add and Remove calls
// queue, and the call at the front (the leader) commits the whole queue as
// one catalog batch with one fsync, under write_mutex_, then publishes one
// new immutable Snapshot. Searches copy the current snapshot pointer and run
// without locks, so they never wait for a writer (nor see half a write).
//
// Sealing and compaction (background.cc, seal.cc) run on a library thread:
// a Rewrite merges a run of segments without any lock, and takes
// write_mutex_ only to commit, applying the deletes that writers made
// meanwhile. Writers therefore never wait for a seal to write its files. A
// second library thread merges the small chunks of recent writes
// (chunk_merge.cc), so that they are merged while a long seal runs too.
//
// Fail-stop writes (LevelDB's background-error pattern): when a catalog write
// fails, its outcome is unknown (the batch may or may not be durable), so the
// in-memory state can no longer be trusted to match the disk. The error is
// kept in write_error_: every later write returns it, reads keep working on
// the last published snapshot, and reopening recovers from the catalog.
#ifndef TURBOQUANT_SRC_INDEX_INDEX_IMPL_H_
#define TURBOQUANT_SRC_INDEX_INDEX_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "src/index/snapshot.h"
#include "storage/catalog.h"
#include "turboquant/index.h"

namespace turboquant {
namespace internal {

// Each committed group of writes becomes one immutable chunk of unsealed
// rows (more chunks when it holds more than this many rows), so a write never
// copies earlier rows.
constexpr size_t kChunkRows = 16384;
// Every scanned segment costs a little per query (table setup, a candidate
// list to merge), so the background thread merges this many trailing small
// chunks into one larger unsealed chunk: a logarithmic number of segments,
// and each row copied a logarithmic number of times, without sealing early.
constexpr size_t kChunksPerMerge = 8;
// With background work off, the writer itself merges the trailing small
// chunks once this many have gathered. Never with it on: merging in the
// group commit copies every row under the write lock, which at d=768 with
// kept vectors was half of each group's time, and a backstop merge of 64
// such chunks during a long seal raised the p99 Add latency from ~105 to
// ~370 ms (device machine, 8 writers x 1,000 rows of d=768).
constexpr size_t kChunksBeforeWriterMerges = 64;
// Write-ahead records deleted per catalog batch after a seal: a batch of a
// million held the write lock for ~0.85 s on the 2-core machine, and group
// commits wait for the catalog write in progress.
constexpr size_t kWriteAheadDeletesPerBatch = 16384;

inline std::string SegmentFileName(uint64_t segment_id) {
  return absl::StrFormat("%016x.tqs", segment_id);
}
inline std::string SegmentPath(const std::string& dir, uint64_t segment_id) {
  return (std::filesystem::path(dir) / "segments" / SegmentFileName(segment_id)).string();
}

// The end of the run of live rows that starts at the live row `first`: at
// most `limit` rows, and not past `rows`.
inline size_t LiveRunEnd(const LiveRows& live, size_t first, size_t rows, size_t limit) {
  size_t end = first + 1;
  while (end < rows && end - first < limit && IsLive(live, end)) ++end;
  return end;
}

// Rows of a new or copied in-memory segment, before it is frozen.
struct SegmentBuilder {
  const size_t code_size;
  ScanLayout layout;
  std::vector<int64_t> ids;
  KeptVectors vectors;
  std::vector<uint64_t> sequences;
  // Kept vectors of appended rows are copied rather than shared: in-memory
  // collections, whose merges are also what frees deleted rows' vectors.
  const bool copy_vectors;
  std::vector<float> copied_vectors;

  explicit SegmentBuilder(const Codec& codec, bool copy_vectors = false)
      : code_size(codec.code_size()), layout(codec), copy_vectors(copy_vectors) {}

  size_t rows() const { return ids.size(); }
  void Reserve(size_t rows, bool with_sequences) {
    layout.ReserveRows(rows);
    ids.reserve(rows);
    if (with_sequences) sequences.reserve(rows);
  }

  // Appends rows [first, end) of `from`; whole code blocks are copied as
  // they are where they line up.
  void AppendRows(const std::shared_ptr<const Segment>& from, size_t first, size_t end,
                  bool keep_sequences) {
    layout.AppendRows(from->layout(), first, end - first);
    ids.insert(ids.end(), from->ids().begin() + first, from->ids().begin() + end);
    const KeptVectors& kept = from->kept_vectors();
    if (!kept.empty()) {
      if (copy_vectors) {
        kept.CopyRows(first, end, &copied_vectors);
      } else {
        vectors.AppendShared(kept, first, end, from);
      }
    }
    for (size_t row = first; keep_sequences && row < end; ++row) {
      sequences.push_back(from->sequence(row));
    }
  }

  // Appends the live rows of `from`, a run of consecutive live rows at a time.
  void AppendLive(const SnapshotSegment& from, bool keep_sequences) {
    const size_t n = from.segment->rows();
    for (size_t first = 0; first < n;) {
      if (!IsLive(from.live, first)) {
        ++first;
        continue;
      }
      const size_t end = LiveRunEnd(from.live, first, n, n);
      AppendRows(from.segment, first, end, keep_sequences);
      first = end;
    }
  }

  std::shared_ptr<const Segment> Build(size_t dim) {
    if (!copied_vectors.empty()) vectors = KeptVectors::Own(std::move(copied_vectors), dim);
    return std::make_shared<const Segment>(std::move(layout), std::move(ids), std::move(vectors),
                                           std::move(sequences));
  }
};

// The Status for an exception that reached a public call or a library
// thread: ResourceExhausted for std::bad_alloc, else Internal naming it.
Status ExceptionStatus(const std::exception& e);

}  // namespace internal

class TurboQuantIndex::Impl {
 public:
  using LiveRows = internal::LiveRows;
  using RowBitmap = internal::RowBitmap;
  using Segment = internal::Segment;
  using Snapshot = internal::Snapshot;
  using SnapshotSegment = internal::SnapshotSegment;

 public:
  Impl(const IndexOptions& options, const OpenOptions& tuning, std::unique_ptr<Codec> codec,
       std::string dir, std::unique_ptr<storage::Catalog> catalog)
      : options_(options),
        tuning_(tuning),
        codec_(std::move(codec)),
        dir_(std::move(dir)),
        fs_(storage::OrDefault(tuning.file_system)),
        snapshot_(std::make_shared<const Snapshot>()),
        catalog_(std::move(catalog)) {}
  // Stops the background thread (after the Rewrite it is running, if any).
  ~Impl();

  // Rebuilds the state of a durable collection from its catalog contents;
  // a writer then removes the files the catalog does not name.
  Status Recover(const storage::CatalogContents& contents);
  Status Refresh();

  Status Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors);
  StatusOr<int64_t> AddWithNewIds(absl::Span<const float> vectors);
  StatusOr<BulkLoadResult> BulkLoad(RowSource& source, const BulkLoadOptions& options);
  StatusOr<int64_t> Remove(absl::Span<const int64_t> ids);
  StatusOr<std::vector<float>> Get(int64_t id) const;
  bool Contains(int64_t id) const;
  StatusOr<SearchResults> Search(absl::Span<const float> queries, const SearchParams& params) const;
  Status Flush();
  Status Compact();
  Status WaitForBackgroundWork();
  // Writable indexes: starts the library threads that seal and compact, and
  // merge small chunks (unless OpenOptions::background_work is off).
  void StartBackgroundWork();
  Status Verify() const;
  Status Backup(const std::string& dir) const;
  IndexStats Stats() const;
  int64_t size() const { return Current()->live_count(); }
  const IndexOptions& options() const { return options_; }

 private:
  struct Location {
    const Segment* segment;
    uint64_t row;
  };
  // An Add's rows, validated and encoded outside the write lock.
  struct EncodedRows {
    size_t count = 0;
    std::vector<uint8_t> codes;
    // The unsealed chunks these rows become, but for ids and sequences,
    // which the group commit assigns: built in the caller's thread so that
    // the leader only names them. Their kept vectors are the library's own
    // copy, which the vectors log is written from, so that a caller changing
    // its buffer during the call cannot make a record's CRC disagree; once
    // the log is synced they point into it instead (SyncGroupVectors).
    std::vector<internal::SegmentBuilder> chunks;
    // CRC32C of each kept vector (durable collections), for its log record.
    std::vector<uint32_t> vector_crcs;
    // The vectors log these kept vectors were appended to, and where.
    std::shared_ptr<storage::VectorsLog> log;
    uint64_t log_offset = 0;
  };
  // One Add, AddWithNewIds or Remove waiting in the writer queue.
  struct WriteRequest {
    absl::Span<const int64_t> ids;      // Add and Remove
    EncodedRows* rows = nullptr;        // Add and AddWithNewIds; null = Remove
    bool new_ids = false;               // AddWithNewIds: the leader picks ids
    int64_t result = 0;                 // rows removed, or the first new id
    Status status;
    bool done = false;  // guarded by queue_mutex_
  };
  // Consecutive segments that a Rewrite replaces, as they were when it began.
  using RewriteRun = std::vector<SnapshotSegment>;

  // Lock-free: a reader never waits for a writer (snapshot.h).
  internal::SnapshotRef Current() const { return snapshot_.Load(); }
  void Publish(std::shared_ptr<const Snapshot> snapshot) { snapshot_.Store(std::move(snapshot)); }

  void EnsureLocations();
  Status CheckBatchIds(absl::Span<const int64_t> ids) const;
  StatusOr<EncodedRows> Encode(absl::Span<const float> vectors) const;
  // Encode, then the rows' kept vectors appended to the vectors log in the
  // caller's thread (durable collections with keep_vectors), so that the
  // leader of a group only syncs the log. A failure stops writes.
  StatusOr<EncodedRows> EncodeAndLog(absl::Span<const float> vectors);
  // Queues `request` and returns once it is durable (or failed): the caller
  // either finds it done by a leader or becomes the leader of a group.
  Status SubmitWrite(WriteRequest* request);
  // The leader's work: one catalog batch and one publish for the group.
  void CommitGroup(absl::Span<WriteRequest* const> group);
  // CommitGroup, where an exception (memory running out) stops writes, as
  // a failed catalog write does, and fails the whole group, so that every
  // queued call still returns.
  void CommitGroupOrStopWrites(absl::Span<WriteRequest* const> group);
  // Adds one request's changes to `next` and `batch` (under write_mutex_).
  void StageAdd(WriteRequest* request, Snapshot* next, rocksdb::WriteBatch* batch);
  // Appends `rows`' kept vectors to the current vectors log.
  Status AppendVectors(EncodedRows* rows);
  // The vectors log that Adds append to now, created when there is none.
  StatusOr<std::shared_ptr<storage::VectorsLog>> CurrentVectorsLog();
  // Syncs the vectors log that the group's Adds appended to, before the
  // batch that points at them, and points their chunks at it. Rows appended
  // to a log that a seal has claimed since are appended again to the
  // current one, as that seal removes the old log once it commits.
  Status SyncGroupVectors(absl::Span<WriteRequest* const> group);
  // The vectors log directory, DIR/vectors.
  std::string VectorsDir() const { return dir_ + "/vectors"; }
  // Removes vectors logs numbered `upto` and below (no record points into
  // them once the seal that started a later log committed).
  void RemoveVectorsLogs(uint64_t upto) const;
  void StageRemove(WriteRequest* request, Snapshot* next, rocksdb::WriteBatch* batch);
  // Makes `cause` the sticky write error, unless there already is one.
  void StopWrites(const Status& cause, absl::string_view what);
  // Writes `batch` to the catalog; a failure becomes the sticky write error.
  Status WriteCatalog(rocksdb::WriteBatch* batch);
  // The sticky write error, or FailedPrecondition on a read-only open.
  Status CheckWritable() const;
  // Background work (background.cc). A library thread and what it is asked
  // to do: `wanted` and `busy` are guarded by background_mutex_.
  struct Worker {
    std::thread thread;
    bool wanted = false;
    bool busy = false;
  };
  // Wakes the library threads that have work due in `snapshot`.
  void WakeBackgroundIfDue(const Snapshot& snapshot);
  // Runs `work` whenever `worker` is wanted, until the index closes.
  void RunWorker(Worker* worker, void (Impl::*work)());
  // Segments [first, end) of a snapshot that are due for background work
  // (first == end: none).
  struct DueWork {
    size_t first = 0, end = 0;
  };
  // A Rewrite into sealed segments, in order: the unsealed rows once they
  // reach seal_rows, a sealed segment a fifth deleted, or the trailing
  // sealed segments of one size class once there are kSegmentsPerTier.
  DueWork DueRewrite(const Snapshot& snapshot) const;
  // kChunksPerMerge or more trailing small chunks to merge into one.
  DueWork DueChunkMerge(const Snapshot& snapshot) const;
  // Each does its kind of due work until none is left; DoDueWork does both
  // (in the caller's thread when background work is off). A failure becomes
  // the sticky write error: acknowledged writes were durable already, so it
  // fails no call.
  void DoDueRewrites();
  void DoDueChunkMerges();
  void DoDueWork();
  // Marks rows dead in `next`, recording the catalog changes in `batch`.
  void DeleteRows(const std::vector<Location>& rows, Snapshot* next,
                  rocksdb::WriteBatch* batch);
  // The writer's own merge of the trailing small chunks of `next`, once
  // kChunksBeforeWriterMerges of them have gathered, when background work
  // is off.
  void MergeSmallChunks(Snapshot* next);
  // chunk_merge.cc. Where the trailing run of small unsealed chunks that no
  // rewrite has claimed begins in `snapshot` (its size if there is none).
  size_t FirstSmallChunk(const Snapshot& snapshot) const;
  // Merges the live rows of the claimed chunks `run` into one unsealed chunk
  // (same write-ahead records, so no catalog change) without write_mutex_,
  // then swaps it in: rows deleted meanwhile are dead in it too.
  Status MergeChunks(const RewriteRun& run);
  void CommitChunkMerge(const RewriteRun& run, std::shared_ptr<const Segment> chunk);
  // Where `run` starts in `snapshot`, or the snapshot's size when its
  // segments are no longer there, one after another.
  size_t LocateRun(const Snapshot& snapshot, const RewriteRun& run) const;
  // Points the ids of the live rows of a new segment at it.
  void RecordLocations(const Segment& segment, const LiveRows& live) {
    if (!locations_built_) return;
    for (size_t row = 0; row < segment.rows(); ++row) {
      if (!internal::IsLive(live, row)) continue;
      locations_[segment.id(row)] = {&segment, row};
      largest_id_ = std::max(largest_id_, segment.id(row));
    }
  }
  // The chunks of `count` new rows (codes, and kept vectors unless null,
  // which the chunks share), at most kChunkRows each, without their ids and
  // sequences.
  std::vector<internal::SegmentBuilder> BuildChunks(
      const uint8_t* codes, const std::shared_ptr<const std::vector<float>>& vectors,
      size_t count) const;
  // Completes `chunks` with their rows' ids and sequences and appends them
  // to `next`.
  void AppendUnsealed(absl::Span<const int64_t> ids, absl::Span<const uint64_t> sequences,
                      std::vector<internal::SegmentBuilder>* chunks, Snapshot* next);
  // Segments [first, end) of the current snapshot, claimed so that writers
  // do not merge them meanwhile.
  RewriteRun ClaimSegments(size_t first, size_t end);
  // The run a Rewrite of segments [first, end) would replace, claimed; new
  // kept vectors go to a new log from now on.
  RewriteRun ClaimRun(size_t first, size_t end);
  // Merges the live rows of `run` into sealed segments of at most
  // max_segment_rows (files for durable collections, each written and
  // validated before the catalog names it) without holding write_mutex_,
  // then commits: rows that writers deleted meanwhile become tombstones of
  // the new segments, the id map moves the rest, and a snapshot is published.
  // Callers hold rewrite_mutex_. An exception releases the claim and
  // becomes the sticky write error.
  Status Rewrite(const RewriteRun& run);
  Status MergeAndCommit(const RewriteRun& run);
  // Rewrite's commit, under write_mutex_.
  // `sources` holds, for every row of `merged` in order, the run segment
  // and row it came from (segment << 32 | row). Appends to *sealed the
  // sequences of the write-ahead records the commit makes obsolete.
  Status CommitRewrite(const RewriteRun& run,
                       const std::vector<std::shared_ptr<const Segment>>& merged,
                       const std::vector<uint64_t>& sources, rocksdb::WriteBatch* batch,
                       std::vector<uint64_t>* sealed);
  void Unclaim(const RewriteRun& run);
  // Flush and Compact: a Rewrite of the unsealed segments, or of all, in the
  // caller's thread.
  Status RewriteNow(bool unsealed_only);
  // Records in `batch` the deletion of the catalog keys of `old`: its
  // segment record and tombstones; the sequences of its rows' write-ahead
  // records go to *sealed instead (see Catalog::kSealedThroughKey).
  void DropFromCatalog(const SnapshotSegment& old, rocksdb::WriteBatch* batch,
                       std::vector<uint64_t>* sealed) const;
  // Deletes the write-ahead records of `sequences`, which a committed seal
  // made obsolete, a batch at a time; without write_mutex_.
  Status DeleteSealedWriteAhead(const std::vector<uint64_t>& sequences);
  // The merged segments of a Rewrite, as files numbered from `first_id` and
  // named in `batch`.
  StatusOr<std::vector<std::shared_ptr<const Segment>>> SealToFiles(
      std::vector<std::shared_ptr<const Segment>> merged, uint64_t first_id,
      rocksdb::WriteBatch* batch);
  size_t FirstUnsealed(const Snapshot& snapshot) const;
  // Where new sealed segments go: before the unsealed chunks, and before a
  // run claimed by a rewrite rather than inside it, which must stay
  // contiguous until it is replaced.
  size_t SealedInsertPoint(const Snapshot& snapshot) const;
  StatusOr<std::shared_ptr<const Segment>> OpenSealed(uint64_t segment_id, uint64_t rows) const;
  // bulk_load.cc: BulkLoad's reading, encoding and segment writing.
  class BulkLoader;
  // A segment id for a file written outside write_mutex_: the counter moves
  // at once, so no other writer's file gets the same name.
  uint64_t ReserveSegmentId();
  // BulkLoad's commit, under write_mutex_: one catalog batch names the new
  // segments' files and tombstones the rows whose ids they replace; then the
  // id map and a new snapshot. Files that nothing will name are removed.
  Status CommitBulkLoad(const std::vector<std::shared_ptr<const Segment>>& segments,
                        int64_t* replaced);
  // The snapshot the catalog describes; sealed segments already in `reuse`
  // (by segment id) are shared rather than mapped again.
  StatusOr<std::shared_ptr<Snapshot>> SnapshotFromCatalog(
      const storage::CatalogContents& contents,
      const absl::flat_hash_map<uint64_t, std::shared_ptr<const Segment>>& reuse);
  // SnapshotFromCatalog, reusing the current snapshot's sealed segments; a
  // read-only open catches up and retries when the writer removed a file.
  StatusOr<std::shared_ptr<Snapshot>> LoadSnapshot(storage::CatalogContents contents);
  // Backup's files in `staging`: segment links and a catalog of `snapshot`.
  Status WriteBackup(const Snapshot& snapshot, const std::string& staging) const;
  // Removes segment files (and temp files) that the catalog does not name,
  // and vectors logs that no write-ahead record points into.
  void RemoveUnnamedFiles(const Snapshot& snapshot, const storage::CatalogContents& contents) const;

  const IndexOptions options_;
  const OpenOptions tuning_;
  const std::unique_ptr<Codec> codec_;
  const std::string dir_;  // empty for an in-memory index
  const storage::FileSystemPtr fs_;

  internal::SnapshotHolder snapshot_;

  // The writer queue of group commit.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<WriteRequest*> queue_;

  // One Rewrite at a time (background thread, Flush, Compact).
  std::mutex rewrite_mutex_;
  // Held by a chunk merge from its claim to its commit, and by a Rewrite
  // while it claims its run, so that a Rewrite never claims chunks that a
  // merge holds. Taken before write_mutex_.
  std::mutex chunk_merge_mutex_;

  // The background threads and their wake-ups.
  std::mutex background_mutex_;
  std::condition_variable background_cv_;
  bool background_stop_ = false;  // guarded by background_mutex_
  Worker rewriter_;               // seals and compacts
  Worker chunk_merger_;           // merges small chunks

  // Guards the two below; taken by writers before they queue, and after
  // write_mutex_ where both are held.
  std::mutex vectors_log_mutex_;
  // The vectors log that Adds append to; null until a write needs one, and
  // again once a seal claims the rows written to it (ClaimRun).
  std::shared_ptr<storage::VectorsLog> vectors_log_;
  uint64_t last_vectors_log_ = 0;  // the highest log number created, or found by Open

  // Guards everything below: held by a group's leader while it commits and
  // by a Rewrite while it commits.
  mutable std::mutex write_mutex_;
  std::unique_ptr<storage::Catalog> catalog_;
  Status write_error_;
  // write_error_ is set: read by writers before they append to the vectors
  // log, without the lock.
  std::atomic<bool> writes_stopped_{false};
  uint64_t next_segment_ = 1;
  uint64_t next_sequence_ = 1;
  // Where every live id is; built from the segments' id arrays on first need
  // so that opening a large collection does not read them.
  bool locations_built_ = false;
  absl::flat_hash_map<int64_t, Location> locations_;
  int64_t largest_id_ = -1;  // of every id recorded in locations_; -1 = none
  // Unsealed chunks that a running Rewrite is sealing: never merged.
  absl::flat_hash_set<const Segment*> claimed_;
  uint64_t retiring_logs_upto_ = 0;  // logs the running seal makes obsolete
  // next_sequence_ when the running seal claimed every unsealed chunk: the
  // write-ahead records below it are the seal's (Catalog::kSealedThroughKey).
  uint64_t sealing_through_ = 0;
  // Committed Rewrites since open, for Stats (read without the lock).
  std::atomic<int64_t> seals_{0};
  std::atomic<int64_t> compactions_{0};
};

}  // namespace turboquant

#endif  // TURBOQUANT_SRC_INDEX_INDEX_IMPL_H_
