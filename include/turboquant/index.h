// TurboQuantIndex: approximate top-k search over TurboQuant codes.
//
// Zero training: vectors can be added at any time, from the first one. The
// index keeps only the codes (and, with keep_vectors, the original float
// vectors for exact re-ranking of the best candidates).
//
// Search pipeline (ARCHITECTURE.md section 2): rotate the query, build
// per-query lookup tables, scan the 32-vector code blocks with SIMD
// (u8 tables, u16 accumulation), keep the best `rescore` candidates, re-score
// them with the exact float estimator of the codec, optionally re-rank the best
// `rerank` with the original vectors, and return the top k.
#ifndef TURBOQUANT_INDEX_H_
#define TURBOQUANT_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "turboquant/bulk_load.h"
#include "turboquant/codec.h"
#include "turboquant/filter.h"
#include "turboquant/status.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace turboquant {

// Limits on the sizes a caller controls. Larger values are rejected with
// InvalidArgument before anything is allocated.
inline constexpr int kMaxSearchK = 1 << 16;          // SearchParams::k
inline constexpr int kMaxCandidates = 1 << 20;       // SearchParams::rescore, rerank
inline constexpr int kMaxSearchThreads = 1024;       // SearchParams::threads
inline constexpr int64_t kMaxResultSlots = int64_t{1} << 26;  // queries x k of one Search
inline constexpr int64_t kMaxBatchRows = int64_t{1} << 24;    // rows of one Add or Remove
inline constexpr int64_t kMaxSegmentRows = (int64_t{1} << 32) - 1;  // OpenOptions::max_segment_rows

enum class Metric {
  kInnerProduct,  // larger <q, x> is better; scores are inner products
  kCosine,        // vectors and queries are normalized; scores are cosines
  kL2,            // smaller ||q - x||^2 is better; scores are squared distances
};
const char* MetricName(Metric metric);  // "ip", "cosine", "l2"
StatusOr<Metric> ParseMetric(const std::string& name);

// The codec an index uses unless told otherwise. MSE with length
// renormalization ranks better than ProdCodec at equal bits on every dataset
// measured (README.md, "Choosing the codec").
inline constexpr CodecKind kDefaultIndexCodec = CodecKind::kMse;

struct IndexOptions {
  int dim = 0;
  int bits = 4;
  CodecKind codec = kDefaultIndexCodec;
  Metric metric = Metric::kInnerProduct;
  uint64_t seed = CodecOptions().seed;
  // Also keep the float32 vectors so that Search can re-rank exactly.
  bool keep_vectors = false;
};

struct SearchParams {
  int k = 10;
  // Candidates kept from the SIMD scan and re-scored with the float estimator;
  // 0 picks max(4 * k, 64).
  int rescore = 0;
  // With keep_vectors: re-rank this many of the best candidates with the
  // original vectors (exact scores). 0 = no exact re-ranking.
  int rerank = 0;
  // Threads for this call; 0 = all hardware threads.
  int threads = 1;
  // Which ids may be returned; the default filters nothing. An AllowOnly
  // filter may ask for k larger than the index holds.
  Filter filter;
};

// Row-major results: query q's j-th best is ids[q * k + j]. When fewer than k
// vectors qualify, the remaining slots hold id -1 and score NaN. An empty
// index answers with k = 0 and no slots at all.
struct SearchResults {
  int num_queries = 0;
  int k = 0;
  std::vector<int64_t> ids;
  std::vector<float> scores;
};

struct IndexStats {
  int64_t count = 0;            // live vectors
  int64_t deleted = 0;          // deleted rows still stored (until Compact)
  int64_t unsealed = 0;         // rows in the write-ahead, not yet in a segment file
  int64_t segments = 0;         // segments searched (sealed + in memory)
  size_t code_bytes = 0;        // bytes of codes and per-vector scalars
  size_t vector_bytes = 0;      // bytes of kept float vectors
  size_t bytes_per_vector = 0;  // codec code size
  uint64_t bytes_on_disk = 0;   // segment files + catalog (0 in memory)
  // Memory of the bookkeeping beside the codes: the id -> location map (0
  // until a write or Get first needs it), the live-row bitmaps of segments
  // with deletes, and the unsealed rows (codes, ids, kept vectors; those of
  // a durable collection are its vectors logs mapped, which the kernel's
  // page cache holds and may evict).
  size_t id_map_bytes = 0;
  size_t live_bitmap_bytes = 0;
  size_t unsealed_bytes = 0;
  // Seals and compactions committed since the index was opened.
  int64_t seals = 0;
  int64_t compactions = 0;
};

// How a durable collection is opened (and, for Create, tuned).
struct OpenOptions {
  // Unsealed rows are written to a segment file once there are this many.
  int64_t seal_rows = 1 << 20;
  // Seal and compact on a library-owned thread: unsealed rows once there are
  // seal_rows of them; sealed segments of one size class once there are
  // four (size-tiered merging); a segment whose rows are a fifth deleted. A
  // second library thread merges the small chunks of recent writes, also
  // while a seal runs.
  // Off: that work is done only by Flush, Compact and WaitForBackgroundWork,
  // in the caller's thread (for callers that schedule it themselves, and for
  // tests that need a deterministic order of file operations).
  bool background_work = true;
  // Sealing and compaction split their output into segments of at most this
  // many rows (row numbers inside a segment are 32-bit): 1 to kMaxSegmentRows.
  int64_t max_segment_rows = int64_t{1} << 30;
  // Opens without writing anything into the directory, beside one process
  // that has it open for writing and any number of other readers (a RocksDB
  // secondary instance). Writes fail with FailedPrecondition; Refresh()
  // catches up with the writer.
  bool read_only = false;
  // The file layer every file of the collection is written through (RocksDB's
  // and the segment files); null = the local file system. Tests put a
  // fault-injecting layer here to simulate power loss.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

class TurboQuantIndex {
 public:
  // An in-memory index.
  static StatusOr<std::unique_ptr<TurboQuantIndex>> Create(const IndexOptions& options);
  // A new durable collection in directory `dir` (created; must not exist or
  // be empty): DIR/catalog (RocksDB) and DIR/segments/*.tqs.
  static StatusOr<std::unique_ptr<TurboQuantIndex>> Create(const std::string& dir,
                                                           const IndexOptions& options,
                                                           const OpenOptions& open = {});
  // Opens a durable collection, replaying acknowledged writes that were not
  // sealed yet. Segment files are mapped, not read. Only one process (and one
  // TurboQuantIndex) may open a collection for writing at a time; another
  // gets FailedPrecondition, and read-only opens always work.
  static StatusOr<std::unique_ptr<TurboQuantIndex>> Open(const std::string& dir,
                                                         const OpenOptions& open = {});
  ~TurboQuantIndex();

  // Adds ids.size() vectors (vectors.size() == ids.size() * dim). Ids must be
  // unique within the call; an id already in the index is replaced (upsert).
  // Durable collections return only after the write is synced to disk.
  Status Add(absl::Span<const int64_t> ids, absl::Span<const float> vectors);
  // Adds vectors.size() / dim vectors under new ids, chosen atomically with
  // the write: consecutive, starting one past the largest id in the index (0
  // when empty). Returns the first id.
  StatusOr<int64_t> AddWithNewIds(absl::Span<const float> vectors);
  // Adds every row of `source` (files larger than memory are fine), encoded
  // on several threads straight into new segment files that one catalog
  // batch then names: a crash leaves the index as it was or with the whole
  // load. Ids must be unique within the load; an id already in the index is
  // replaced (upsert) in that same batch. See turboquant/bulk_load.h.
  StatusOr<BulkLoadResult> BulkLoad(RowSource& source, const BulkLoadOptions& options = {});
  // Deletes the ids that are present; returns how many were.
  StatusOr<int64_t> Remove(absl::Span<const int64_t> ids);
  // The stored vector of an id. With keep_vectors: exactly the vector that
  // was added. Without: the codec's reconstruction of what was indexed, which
  // for the cosine metric is the vector scaled to unit length. NotFound if
  // absent.
  StatusOr<std::vector<float>> Get(int64_t id) const;

  // Top-k for every query (queries.size() == num_queries * dim). Safe to call
  // from many threads at once (concurrently with other searches).
  StatusOr<SearchResults> Search(absl::Span<const float> queries, const SearchParams& params) const;

  bool Contains(int64_t id) const;
  int64_t size() const;
  const IndexOptions& options() const;
  IndexStats Stats() const;

  // Seals every unsealed row into a segment file (durable collections).
  Status Flush();
  // Rewrites segments without their deleted rows and swaps them in
  // atomically; searches keep running on the snapshot they started with.
  Status Compact();
  // Returns once no seal or compaction is due or running (doing it in this
  // thread when background_work is off). Its error is the sticky write
  // error, if background work failed.
  Status WaitForBackgroundWork();
  // Checks every checksum and the manifest against the files; DataLoss names
  // the damaged file.
  Status Verify() const;
  // A consistent copy of the collection as of this call in `dir` (which must
  // not exist or be empty): hard links of the immutable segment files (copies
  // across file systems) and a new catalog written from the current
  // snapshot, all fsynced and renamed into place, so a crash leaves the whole
  // backup or none. Writers keep running meanwhile; works on read-only opens.
  Status Backup(const std::string& dir) const;
  // Read-only opens: catches up with the writing process, so that every
  // write, delete, seal and compaction it acknowledged before this call is
  // visible afterwards. A writer's own index is always current: OK, no effect.
  Status Refresh();

 private:
  class Impl;
  explicit TurboQuantIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace turboquant

#endif  // TURBOQUANT_INDEX_H_
