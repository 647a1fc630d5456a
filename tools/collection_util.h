// Helpers shared by the collection subcommands of tqindex (build, add,
// delete, query, info, verify, compact, backup, bench, demo): reading the
// flags they share, opening a collection, streaming a vector file into an
// index, exact ground truth by brute force, recall, timing, and a small JSON
// object writer. Timing searches is in tools/search_timing.h.
#ifndef TURBOQUANT_TOOLS_COLLECTION_UTIL_H_
#define TURBOQUANT_TOOLS_COLLECTION_UTIL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/flags.h"
#include "turboquant/codec.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace tqindex {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start);
// count / seconds, or 0 when no time was measured.
double PerSecond(int64_t count, double seconds);

// ---- JSON -------------------------------------------------------------------

// Builds one flat JSON object, keys in insertion order.
class JsonObject {
 public:
  JsonObject& Str(const std::string& key, const std::string& value);
  JsonObject& Int(const std::string& key, int64_t value);
  JsonObject& Uint(const std::string& key, uint64_t value);
  // With `significant_digits` (%g); non-finite numbers become null (JSON has
  // no NaN).
  JsonObject& Num(const std::string& key, double value, int significant_digits = 6);
  JsonObject& Bool(const std::string& key, bool value);
  std::string ToString() const;  // "{...}"
  // ToString() and a newline on stdout.
  void Print() const;

 private:
  void Key(const std::string& key);
  std::string body_;
};

std::string JsonQuote(const std::string& text);

// ---- flags ------------------------------------------------------------------

// "--codec: unknown codec 'x' (expected mse or prod)" etc.
absl::StatusOr<turboquant::CodecKind> ParseCodecFlag(const std::string& text);
absl::StatusOr<turboquant::Metric> ParseMetricFlag(const std::string& text);
// --bits for a codec: 1..8 for mse, 2..8 for prod.
absl::Status CheckBitsFlag(turboquant::CodecKind codec, int64_t bits);

// --codec, --bits (checked against the codec) and --metric into `options`.
absl::Status ReadIndexFlags(const FlagSet& flags, turboquant::IndexOptions* options);
// --k (1..100000), --rerank, --rescore (0..1000000) and --threads (0..4096)
// into `params`.
absl::Status ReadSearchFlags(const FlagSet& flags, turboquant::SearchParams* params);

// Declares --<name> NAME: the dataset to read when the file of --<file_flag>
// is HDF5 (.hdf5 .h5).
void AddHdf5DatasetFlag(FlagSet& flags, const std::string& name, const std::string& file_flag,
                        const std::string& default_dataset);
// Reader options that read the dataset --<name> names.
absl::StatusOr<turboquant::VectorReaderOptions> ReadHdf5DatasetFlag(const FlagSet& flags,
                                                                    const std::string& name);

// ---- opening a collection -------------------------------------------------------

struct OpenCollection {
  std::string dir;  // as --index gave it
  std::unique_ptr<turboquant::TurboQuantIndex> index;
};

enum class Access {
  // Read-only (a RocksDB secondary instance): writes nothing into the
  // directory and works while a service holds the collection open for
  // writing, seeing every write it acknowledged before the open.
  kRead,
  // The one writer: fails with the library's "open for writing elsewhere"
  // error while another process holds the collection open for writing.
  kWrite,
};

// Opens the collection in `dir` for `access`.
absl::StatusOr<std::unique_ptr<turboquant::TurboQuantIndex>> OpenCollectionDir(
    const std::string& dir, Access access);

// Opens the collection --index names into *collection. On error reports it
// for `command` and returns the exit code: kExitUsage without --index,
// kExitFailure when the collection does not open. nullopt on success.
std::optional<int> OpenIndexFlag(const std::string& command, const FlagSet& flags, Access access,
                                 OpenCollection* collection);

// ---- streaming input ----------------------------------------------------------

// Vectors to add and where their ids come from: an integer file with one id
// per row (`ids`), or consecutive numbers from `first_id`.
struct IngestSource {
  std::unique_ptr<turboquant::VectorReader> vectors;
  std::unique_ptr<turboquant::VectorReader> ids;  // null: first_id, first_id + 1, ...
  int64_t first_id = 0;
};

// Opens the input (read with `input_options`) and ids files and checks them
// against each other: the ids file must have one column and as many rows as
// the input.
absl::StatusOr<IngestSource> OpenIngestSource(const std::string& input,
                                              const turboquant::VectorReaderOptions& input_options,
                                              const std::string& ids_path, int64_t first_id);

// "F has dimension 64, but the collection DIR has dimension 128".
absl::Status CheckDimension(const std::string& what, const std::string& path, int file_dim,
                            const std::string& collection, int collection_dim);

struct IngestResult {
  int64_t rows = 0;
  int64_t replaced = 0;  // ids that were already present (with count_replaced)
  double seconds = 0;
};

// Adds every row of `source` to `index` in batches of `batch` rows, showing a
// progress bar labelled `label` on a terminal.
absl::StatusOr<IngestResult> Ingest(IngestSource& source, turboquant::TurboQuantIndex& index,
                                    int64_t batch, const std::string& label, bool count_replaced);

// Adds every row of `rows` to `index` with its row number as id, in batches
// of 10000 rows, showing a "building" progress bar on a terminal.
absl::Status AddRowsByNumber(const turboquant::Matrix& rows, turboquant::TurboQuantIndex& index);

// `source` as a RowSource for TurboQuantIndex::BulkLoad, read in batches of
// `batch` rows (the source must outlive it).
std::unique_ptr<turboquant::RowSource> IngestRowSource(IngestSource& source, int64_t batch);

// index.BulkLoad(rows, options), showing a progress bar labelled `label` on
// a terminal (options.progress is set to draw it).
absl::StatusOr<turboquant::BulkLoadResult> BulkLoadWithProgress(
    turboquant::TurboQuantIndex& index, turboquant::RowSource& rows,
    turboquant::BulkLoadOptions options, const std::string& label);

// ---- ground truth, recall, threads --------------------------------------------------

// The exact k nearest base rows (row numbers) of every query for `metric`,
// row-major num_queries x k, computed by brute force with float arithmetic on
// `threads` threads (0 = all); ties go to the smaller row number.
std::vector<int64_t> ExactTopK(const turboquant::Matrix& base, const turboquant::Matrix& queries,
                               turboquant::Metric metric, int k, int threads);

// Reads a ground-truth file (with `options`) and checks it fits the queries:
// one row per query, at least `k` ids per row.
absl::StatusOr<turboquant::IdMatrix> ReadGroundTruth(
    const std::string& path, const turboquant::VectorReaderOptions& options, int64_t num_queries,
    int k);

// Mean over queries of |first k results ∩ first k true neighbours| / k.
double RecallAtK(const std::vector<int64_t>& results, int result_k,
                 const std::vector<int64_t>& truth, int truth_k, int k);
// Fraction of queries whose true nearest neighbour is among the first k results.
double OneRecallAtK(const std::vector<int64_t>& results, int result_k,
                    const std::vector<int64_t>& truth, int truth_k, int k);

// Threads that `threads` = 0 stands for (every hardware thread).
int HardwareThreads();
// The threads a --threads value means: itself, or HardwareThreads() for 0.
int EffectiveThreads(int threads);

// "12.3 MB", "512 B".
std::string HumanBytes(double bytes);

// A new directory under $TMPDIR (or /tmp), removed with everything in it
// when this is destroyed.
class TemporaryDirectory {
 public:
  static absl::StatusOr<std::unique_ptr<TemporaryDirectory>> Make(const std::string& prefix);
  ~TemporaryDirectory();
  const std::string& path() const { return path_; }

 private:
  explicit TemporaryDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace tqindex

// `lhs = value of expr`, or return its error status from the enclosing
// function (which returns absl::Status or absl::StatusOr).
#define TQINDEX_CONCAT_INNER(a, b) a##b
#define TQINDEX_CONCAT(a, b) TQINDEX_CONCAT_INNER(a, b)
#define TQINDEX_ASSIGN_OR_RETURN(lhs, expr) \
  TQINDEX_ASSIGN_OR_RETURN_IMPL(TQINDEX_CONCAT(tqindex_statusor_, __LINE__), lhs, expr)
#define TQINDEX_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return statusor.status();             \
  lhs = std::move(*statusor)

#endif  // TURBOQUANT_TOOLS_COLLECTION_UTIL_H_
