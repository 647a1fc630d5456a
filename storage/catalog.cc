#include "storage/catalog.h"

#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace turboquant::storage {
namespace {

constexpr char kOptionsKey[] = "options";
constexpr char kSegmentPrefix[] = "segment/";
constexpr char kTombstonePrefix[] = "tomb/";
constexpr char kPendingPrefix[] = "wal/";

std::string Hex(uint64_t value) { return absl::StrFormat("%016x", value); }

bool ParseHex(absl::string_view text, uint64_t* value) {
  if (text.size() != 16) return false;
  *value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else return false;
    *value = *value << 4 | static_cast<uint64_t>(digit);
  }
  return true;
}

void PutU64(std::string* out, uint64_t value) { out->append(reinterpret_cast<const char*>(&value), 8); }

bool GetU64(absl::string_view* in, uint64_t* value) {
  if (in->size() < 8) return false;
  std::memcpy(value, in->data(), 8);
  in->remove_prefix(8);
  return true;
}

rocksdb::Options DbOptions(rocksdb::Env* env) {
  rocksdb::Options options;
  options.env = env;
  options.create_if_missing = false;
  options.paranoid_checks = true;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  options.info_log_level = rocksdb::WARN_LEVEL;
  // After a failed write the index stops taking writes until it is reopened
  // (src/index/index_impl.h); RocksDB's own retries would only delay that.
  options.max_bgerror_resume_count = 0;
  return options;
}

// RocksDB reports a held LOCK file as an IO error; say what it means here.
Status OpenError(const rocksdb::Status& status, const std::string& dir) {
  if (status.IsIOError() && status.ToString().find("lock") != std::string::npos) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: the collection is open for writing elsewhere (another process or TurboQuantIndex); "
        "open it read-only to search it meanwhile (%s)",
        dir, status.ToString()));
  }
  return FromRocks(status, dir);
}

// How a batch changes the number of tombstone and write-ahead records.
// FNV-1a with a final mix: stable across processes and builds, unlike
// absl::Hash, which is seeded per process.
uint64_t StableKeyHash(absl::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : key) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

class TallyCounter : public rocksdb::WriteBatch::Handler {
 public:
  explicit TallyCounter(RecordTally* tally) : tally_(tally) {}
  void Put(const rocksdb::Slice& key, const rocksdb::Slice&) override { Count(key, +1); }
  void Delete(const rocksdb::Slice& key) override { Count(key, -1); }

 private:
  void Count(const rocksdb::Slice& key, int delta) {
    tally_->Count(absl::string_view(key.data(), key.size()), delta);
  }
  RecordTally* tally_;
};

// A private directory for a secondary instance's own files (its info log).
StatusOr<std::string> MakeSecondaryDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                        "/turboquant-reader.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrFormat("%s: mkdtemp failed: %s", pattern, std::strerror(errno)));
  }
  return pattern;
}

}  // namespace

void RecordTally::Count(absl::string_view key, int delta) {
  uint64_t* count = nullptr;
  if (absl::StartsWith(key, kSegmentPrefix)) count = &segments;
  if (absl::StartsWith(key, kTombstonePrefix)) count = &tombstones;
  if (absl::StartsWith(key, kPendingPrefix)) count = &pending;
  if (count == nullptr) return;
  *count += static_cast<uint64_t>(static_cast<int64_t>(delta));
  key_hash_sum += static_cast<uint64_t>(static_cast<int64_t>(delta)) * StableKeyHash(key);
}

bool RecordTally::operator==(const RecordTally& other) const {
  return segments == other.segments && tombstones == other.tombstones &&
         pending == other.pending && key_hash_sum == other.key_hash_sum;
}

bool DecodeCatalogRecord(absl::string_view key, absl::string_view value, CatalogContents* contents) {
  uint64_t a, b;
  if (absl::ConsumePrefix(&key, kSegmentPrefix)) {
    SegmentRecord record;
    if (!ParseHex(key, &record.segment_id)) return false;
    if (!GetU64(&value, &record.rows) || !GetU64(&value, &record.file_bytes) || !value.empty()) {
      return false;
    }
    contents->segments.push_back(record);
    return true;
  }
  if (absl::ConsumePrefix(&key, kTombstonePrefix)) {
    if (key.size() != 33 || key[16] != '/') return false;
    if (!ParseHex(key.substr(0, 16), &a) || !ParseHex(key.substr(17), &b)) return false;
    contents->tombstones.push_back({a, b});
    return true;
  }
  if (absl::ConsumePrefix(&key, kPendingPrefix)) {
    PendingRow row;
    uint64_t id, code_bytes;
    if (!ParseHex(key, &row.sequence) || !GetU64(&value, &id) || !GetU64(&value, &code_bytes)) {
      return false;
    }
    const bool in_log = (code_bytes & Catalog::kVectorInLog) != 0;
    code_bytes &= ~Catalog::kVectorInLog;
    if (code_bytes > value.size()) return false;
    row.id = static_cast<int64_t>(id);
    row.code.assign(value.data(), code_bytes);
    value.remove_prefix(code_bytes);
    if (in_log) {
      VectorRef& ref = row.vector_ref;
      if (!GetU64(&value, &ref.log) || !GetU64(&value, &ref.offset) || ref.log == 0 ||
          value.size() != sizeof(uint32_t)) {
        return false;
      }
      std::memcpy(&ref.crc, value.data(), sizeof(uint32_t));
    } else {
      row.vector.assign(value.data(), value.size());
    }
    contents->pending.push_back(std::move(row));
    return true;
  }
  if (key == Catalog::kNextSegmentKey) return GetU64(&value, &contents->next_segment) && value.empty();
  if (key == Catalog::kVersionKey) return GetU64(&value, &contents->version) && value.empty();
  if (key == Catalog::kKeyCountsKey) {
    contents->counted = true;
    RecordTally& t = contents->expected;
    return GetU64(&value, &t.segments) && GetU64(&value, &t.tombstones) &&
           GetU64(&value, &t.pending) && GetU64(&value, &t.key_hash_sum) && value.empty();
  }
  if (key == Catalog::kSealedThroughKey) {
    return GetU64(&value, &contents->sealed_through) && value.empty();
  }
  if (key == Catalog::kNextSequenceKey) {
    return GetU64(&value, &contents->next_sequence) && value.empty();
  }
  return key == kOptionsKey;
}

std::string EncodeOptions(const IndexOptions& options) {
  return absl::StrFormat(
      "format=%d\ndim=%d\nbits=%d\ncodec=%s\nmetric=%s\nseed=%d\nkeep_vectors=%d\n",
      Catalog::kFormatVersion, options.dim, options.bits, CodecKindName(options.codec),
      MetricName(options.metric), options.seed, options.keep_vectors ? 1 : 0);
}

StatusOr<IndexOptions> DecodeOptions(const std::string& text, const std::string& where) {
  IndexOptions options;
  int format = -1, fields = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    bool ok = true;
    int keep = 0;
    if (kv.first == "format") ok = absl::SimpleAtoi(kv.second, &format);
    else if (kv.first == "dim") ok = absl::SimpleAtoi(kv.second, &options.dim);
    else if (kv.first == "bits") ok = absl::SimpleAtoi(kv.second, &options.bits);
    else if (kv.first == "seed") ok = absl::SimpleAtoi(kv.second, &options.seed);
    else if (kv.first == "keep_vectors") ok = absl::SimpleAtoi(kv.second, &keep), options.keep_vectors = keep != 0;
    else if (kv.first == "codec") {
      auto codec = ParseCodecKind(kv.second);
      ok = codec.ok();
      if (ok) options.codec = *codec;
    } else if (kv.first == "metric") {
      auto metric = ParseMetric(kv.second);
      ok = metric.ok();
      if (ok) options.metric = *metric;
    } else {
      ok = false;
    }
    if (!ok) return absl::DataLossError(absl::StrFormat("%s: bad options line '%s'", where, line));
    ++fields;
  }
  if (format != Catalog::kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: collection format version %d is not supported (this build reads version %d)", where,
        format, Catalog::kFormatVersion));
  }
  if (fields != 7) return absl::DataLossError(absl::StrFormat("%s: options are incomplete", where));
  return options;
}

std::string Catalog::SegmentKey(uint64_t segment_id) { return kSegmentPrefix + Hex(segment_id); }
std::string Catalog::TombstonePrefix(uint64_t segment_id) {
  return kTombstonePrefix + Hex(segment_id) + "/";
}
std::string Catalog::TombstoneKey(uint64_t segment_id, uint64_t row) {
  return TombstonePrefix(segment_id) + Hex(row);
}
std::string Catalog::PendingKey(uint64_t sequence) { return kPendingPrefix + Hex(sequence); }

std::string Catalog::EncodeSegment(const SegmentRecord& record) {
  std::string out;
  PutU64(&out, record.rows);
  PutU64(&out, record.file_bytes);
  return out;
}

std::string Catalog::EncodePending(const PendingRow& row) {
  std::string out;
  PutU64(&out, static_cast<uint64_t>(row.id));
  const bool in_log = row.vector_ref.log != 0;
  PutU64(&out, row.code.size() | (in_log ? kVectorInLog : 0));
  out += row.code;
  if (in_log) {
    PutU64(&out, row.vector_ref.log);
    PutU64(&out, row.vector_ref.offset);
    out.append(reinterpret_cast<const char*>(&row.vector_ref.crc), sizeof(uint32_t));
  } else {
    out += row.vector;
  }
  return out;
}

std::string Catalog::EncodeCounter(uint64_t value) {
  std::string out;
  PutU64(&out, value);
  return out;
}

StatusOr<std::unique_ptr<Catalog>> Catalog::Create(const std::string& dir,
                                                   const IndexOptions& options, FileSystemPtr fs) {
  auto catalog = std::unique_ptr<Catalog>(new Catalog(dir, rocksdb::NewCompositeEnv(fs), ""));
  rocksdb::Options db_options = DbOptions(catalog->env_.get());
  db_options.create_if_missing = true;
  db_options.error_if_exists = true;
  rocksdb::DB* db = nullptr;
  if (Status s = FromRocks(rocksdb::DB::Open(db_options, dir, &db), dir); !s.ok()) return s;
  catalog->db_.reset(db);
  if (Status s = catalog->StartPublishing(); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  batch.Put(kOptionsKey, EncodeOptions(options));
  batch.Put(kNextSegmentKey, EncodeCounter(1));
  batch.Put(kNextSequenceKey, EncodeCounter(1));
  if (Status s = catalog->Write(&batch); !s.ok()) return s;
  return catalog;
}

StatusOr<std::unique_ptr<Catalog>> Catalog::Open(const std::string& dir, FileSystemPtr fs,
                                                 bool read_only, CatalogContents* contents) {
  if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT")) {
    return absl::NotFoundError(absl::StrFormat("%s: no catalog here (missing CURRENT)", dir));
  }
  std::string secondary_dir;
  if (read_only) {
    auto made = MakeSecondaryDir();
    if (!made.ok()) return made.status();
    secondary_dir = *made;
  }
  auto catalog =
      std::unique_ptr<Catalog>(new Catalog(dir, rocksdb::NewCompositeEnv(fs), secondary_dir));
  if (read_only) {
    if (Status s = catalog->CatchUp(contents); !s.ok()) return s;
    return catalog;
  }
  rocksdb::DB* db = nullptr;
  if (Status s = OpenError(rocksdb::DB::Open(DbOptions(catalog->env_.get()), dir, &db), dir); !s.ok()) {
    return s;
  }
  catalog->db_.reset(db);
  if (Status s = catalog->ReadContents(contents); !s.ok()) return s;
  catalog->version_ = contents->version;
  catalog->tally_ = contents->read;
  if (Status s = catalog->StartPublishing(); !s.ok()) return s;
  return catalog;
}

Status Catalog::StartPublishing() {
  auto hint = VersionHint::Open(path_);
  if (!hint.ok()) return hint.status();
  hint_ = std::move(*hint);
  hint_->Publish(version_);
  return absl::OkStatus();
}

Catalog::~Catalog() {
  db_.reset();
  if (!secondary_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(secondary_dir_, ignored);
  }
}

Status Catalog::ReadContents(CatalogContents* contents) {
  std::string options_text;
  const rocksdb::Status got = db_->Get(rocksdb::ReadOptions(), kOptionsKey, &options_text);
  if (got.IsNotFound()) return absl::DataLossError(path_ + ": catalog has no options record");
  if (Status s = FromRocks(got, path_); !s.ok()) return s;
  auto options = DecodeOptions(options_text, path_);
  if (!options.ok()) return options.status();
  *contents = CatalogContents();
  contents->options = *options;
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    if (!DecodeCatalogRecord(key, absl::string_view(it->value().data(), it->value().size()),
                             contents)) {
      return absl::DataLossError(
          absl::StrFormat("%s: malformed catalog record '%s'", path_, it->key().ToString(true)));
    }
    contents->read.Count(key, +1);
  }
  if (Status s = FromRocks(it->status(), path_); !s.ok()) return s;
  const RecordTally& want = contents->expected;
  const RecordTally& held = contents->read;
  if (contents->counted && !(held == want)) {
    return absl::DataLossError(absl::StrFormat(
        "%s: the catalog holds %d segment, %d tombstone and %d write-ahead records (key sum "
        "%016x); it records %d, %d and %d (%016x)",
        path_, held.segments, held.tombstones, held.pending, held.key_hash_sum, want.segments,
        want.tombstones, want.pending, want.key_hash_sum));
  }
  // A watermark past every sequence written would drop acknowledged rows.
  if (contents->sealed_through > contents->next_sequence) {
    return absl::DataLossError(absl::StrFormat(
        "%s: the sealed write-ahead watermark %d lies beyond the next sequence %d", path_,
        contents->sealed_through, contents->next_sequence));
  }
  return absl::OkStatus();
}

Status Catalog::ReadAsSecondary(CatalogContents* contents) {
  db_.reset();
  rocksdb::Options db_options = DbOptions(env_.get());
  db_options.max_open_files = -1;  // what secondary instances need
  rocksdb::DB* db = nullptr;
  if (Status s = OpenError(rocksdb::DB::OpenAsSecondary(db_options, path_, secondary_dir_, &db), path_);
      !s.ok()) {
    return s;
  }
  db_.reset(db);
  return ReadContents(contents);
}

Status Catalog::CatchUp(CatalogContents* contents) {
  if (!read_only()) return absl::FailedPreconditionError(path_ + ": only read-only catalogs catch up");
  // A new secondary instance each time rather than TryCatchUpWithPrimary,
  // which with RocksDB 7.8 was seen to miss records and keep range-deleted
  // ones; and a new instance can still open on a view older than the
  // writer's or missing records, so it is read again until it reaches the
  // published version and holds the records the catalog counts.
  constexpr int kAttempts = 50;
  const uint64_t target = VersionHint::Read(path_);
  for (int attempt = 1;; ++attempt) {
    // A view missing some records (DataLoss from ReadContents) is read again
    // too: an instance that opens while the writer drops an old log can
    // miss that log's records.
    const Status read = ReadAsSecondary(contents);
    if (read.ok() && contents->version >= target) return absl::OkStatus();
    if (!read.ok() && !absl::IsDataLoss(read)) return read;
    if (attempt == kAttempts) {
      return read.ok() ? absl::UnavailableError(absl::StrFormat(
                             "%s: could not read the writer's version %d (read %d); try again",
                             path_, target, contents->version))
                       : read;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
  }
}

Status Catalog::Write(rocksdb::WriteBatch* batch, bool sync) {
  if (read_only()) {
    return absl::FailedPreconditionError(path_ + ": the collection was opened read-only");
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  RecordTally tally = tally_;
  TallyCounter counter(&tally);
  if (Status s = FromRocks(batch->Iterate(&counter), path_); !s.ok()) return s;
  std::string counts;
  PutU64(&counts, tally.segments);
  PutU64(&counts, tally.tombstones);
  PutU64(&counts, tally.pending);
  PutU64(&counts, tally.key_hash_sum);
  batch->Put(kKeyCountsKey, counts);
  batch->Put(kVersionKey, EncodeCounter(version_ + 1));
  rocksdb::WriteOptions write;
  write.sync = sync;
  if (Status s = FromRocks(db_->Write(write, batch), path_); !s.ok()) return s;
  tally_ = tally;
  hint_->Publish(++version_);
  return absl::OkStatus();
}

Status Catalog::ReclaimWriteAhead() {
  if (read_only()) return absl::OkStatus();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (Status s = FromRocks(db_->Flush(flush), path_); !s.ok()) return s;
  const rocksdb::Slice begin(kPendingPrefix), end("wal0");  // '0' sorts right after '/'
  return FromRocks(db_->CompactRange(rocksdb::CompactRangeOptions(), &begin, &end), path_);
}

Status Catalog::VerifyChecksums() {
  Status status = FromRocks(db_->VerifyChecksum(), path_);
  // A reader's view can name files that the writer's compaction has removed
  // since: verify a fresh view instead.
  for (int attempt = 0; read_only() && absl::IsNotFound(status) && attempt < 5; ++attempt) {
    CatalogContents ignored;
    if (Status s = CatchUp(&ignored); !s.ok()) return s;
    status = FromRocks(db_->VerifyChecksum(), path_);
  }
  return status;
}

}  // namespace turboquant::storage
