// The RocksDB catalog of a collection directory (DIR/catalog):
//
//   options                         the collection's IndexOptions (text)
//   segment/<segment id>            a sealed segment: rows and file size
//   tomb/<segment id>/<row>         a deleted row of a sealed segment
//   wal/<sequence>                  an acknowledged vector not yet sealed:
//                                   id, code and (keep_vectors) where its
//                                   float row is in the vectors log, or the
//                                   row itself
//   next_segment, next_sequence     counters
//   version                         committed batches so far (every Write
//                                   bumps it; see storage/version_hint.h)
//   key_counts                      how many segment/, tomb/ and wal/ records
//                                   there are and a sum of their key hashes,
//                                   so that a view missing or keeping some is
//                                   detected
//
// Numbers in keys are 16 hex digits, so keys sort numerically. Every change
// is one synced WriteBatch (the RocksDB WAL is never disabled), so a write
// that returned OK survives kill -9 and power loss.
//
// There is no id -> location table: sealed segments store their rows' ids,
// so the map is rebuilt from the mmap'd id arrays when a mutation first needs
// it. That keeps ingest to one small batch per write and Open from reading
// one key per vector.
#ifndef TURBOQUANT_STORAGE_CATALOG_H_
#define TURBOQUANT_STORAGE_CATALOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/write_batch.h"
#include "storage/file_system.h"
#include "storage/vectors_log.h"
#include "storage/version_hint.h"
#include "turboquant/index.h"

namespace turboquant::storage {

struct SegmentRecord {
  uint64_t segment_id = 0;
  uint64_t rows = 0;
  uint64_t file_bytes = 0;
};

struct Tombstone {
  uint64_t segment_id = 0;
  uint64_t row = 0;
};

struct PendingRow {
  uint64_t sequence = 0;
  int64_t id = 0;
  std::string code;    // codec.code_size() bytes
  // With keep_vectors, the float row: in the vectors log (online writes), or
  // inline (backups, and records of builds before the vectors log).
  VectorRef vector_ref;
  std::string vector;
};

// The segment/, tomb/ and wal/ records of a catalog: how many of each, and
// the sum of a stable hash of their keys. A RocksDB secondary instance can
// open on a view that misses a log or an SST file, so a reader compares what
// it read with what the writer recorded in the same batch as the version.
struct RecordTally {
  uint64_t segments = 0;
  uint64_t tombstones = 0;
  uint64_t pending = 0;
  uint64_t key_hash_sum = 0;

  // +1 for a key that is created, -1 for one that is removed.
  void Count(absl::string_view key, int delta);
  bool operator==(const RecordTally& other) const;
};

// Everything Open needs, read in one pass over the catalog.
struct CatalogContents {
  IndexOptions options;
  std::vector<SegmentRecord> segments;  // ascending segment id
  std::vector<Tombstone> tombstones;
  std::vector<PendingRow> pending;      // ascending sequence
  uint64_t next_segment = 1;
  uint64_t next_sequence = 1;
  // Write-ahead records of sequences below this were sealed: their rows are
  // in segment files, and the records are only waiting to be deleted.
  uint64_t sealed_through = 0;
  uint64_t version = 0;
  // What key_counts says the catalog holds (absent in catalogs of builds
  // before it), and what was read.
  bool counted = false;
  RecordTally expected;
  RecordTally read;
};

class Catalog {
 public:
  static constexpr int kFormatVersion = 1;

  // Creates a new catalog in `dir` (which must not hold one), writing every
  // file through `fs`.
  static StatusOr<std::unique_ptr<Catalog>> Create(const std::string& dir,
                                                   const IndexOptions& options, FileSystemPtr fs);
  // Opens an existing catalog and reads its contents. A writer holds
  // RocksDB's lock (a second writer gets FailedPrecondition); a read-only
  // catalog is a RocksDB secondary instance whose own files live in a private
  // temporary directory, so it writes nothing into `dir`.
  static StatusOr<std::unique_ptr<Catalog>> Open(const std::string& dir, FileSystemPtr fs,
                                                 bool read_only, CatalogContents* contents);
  ~Catalog();

  // Applies a batch, adding the next version and the new record counts to
  // it, and publishing that version once it is written (durable with
  // `sync`; without, for batches a crash may lose without harm, such as the
  // deletes of records a watermark made obsolete). Every Put of a segment/,
  // tomb/ or wal/ key must create it, and every Delete remove one that
  // exists. Concurrent calls are applied one at a time. FailedPrecondition on
  // a read-only catalog.
  Status Write(rocksdb::WriteBatch* batch, bool sync = true);
  // Read-only catalogs: catches up with the writer, at least to the version
  // it had published when the call began, and reads the contents again.
  Status CatchUp(CatalogContents* contents);
  // Frees the space of sealed write-ahead records: flushes the memtable (so
  // RocksDB drops its log) and compacts the write-ahead key range.
  Status ReclaimWriteAhead();
  // Reads every key back, checking RocksDB's block checksums.
  Status VerifyChecksums();

  static std::string SegmentKey(uint64_t segment_id);
  static std::string TombstoneKey(uint64_t segment_id, uint64_t row);
  static std::string TombstonePrefix(uint64_t segment_id);
  static std::string PendingKey(uint64_t sequence);
  static std::string EncodeSegment(const SegmentRecord& record);
  static std::string EncodePending(const PendingRow& row);
  static std::string EncodeCounter(uint64_t value);
  static constexpr const char* kNextSegmentKey = "next_segment";
  static constexpr const char* kNextSequenceKey = "next_sequence";
  // A seal commits its segments with this watermark instead of deleting
  // every write-ahead record of its rows in the same batch (a million point
  // deletes held the write lock for ~0.85 s); the records are deleted after
  // the commit, and Open skips and deletes any a crash left behind.
  static constexpr const char* kSealedThroughKey = "sealed_through";
  static constexpr const char* kVersionKey = "version";
  static constexpr const char* kKeyCountsKey = "key_counts";
  // Set in a write-ahead record's code length when its vector is in the
  // vectors log (the record then ends with a VectorRef).
  static constexpr uint64_t kVectorInLog = uint64_t{1} << 63;

  const std::string& path() const { return path_; }
  bool read_only() const { return !secondary_dir_.empty(); }

 private:
  Catalog(std::string path, std::unique_ptr<rocksdb::Env> env, std::string secondary_dir)
      : path_(std::move(path)), env_(std::move(env)), secondary_dir_(std::move(secondary_dir)) {}
  Status ReadContents(CatalogContents* contents);
  // Writers: opens the version hint and publishes the current version.
  Status StartPublishing();
  // Opens a new secondary instance and reads it.
  Status ReadAsSecondary(CatalogContents* contents);

  std::string path_;
  std::unique_ptr<rocksdb::Env> env_;  // outlives db_
  std::string secondary_dir_;          // read-only: the secondary's own files
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex write_mutex_;               // writer: orders Writes
  uint64_t version_ = 0;                 // writer: the last committed version
  RecordTally tally_;                    // writer: records in the catalog
  std::unique_ptr<VersionHint> hint_;    // writer
};

// Applies one catalog record (any key and value read from the catalog) to
// `contents`; false when the record is malformed. Never reads out of bounds,
// whatever the bytes.
bool DecodeCatalogRecord(absl::string_view key, absl::string_view value, CatalogContents* contents);

// Serializes options as "key=value" lines; parsing checks every field.
std::string EncodeOptions(const IndexOptions& options);
StatusOr<IndexOptions> DecodeOptions(const std::string& text, const std::string& where);

}  // namespace turboquant::storage

#endif  // TURBOQUANT_STORAGE_CATALOG_H_
