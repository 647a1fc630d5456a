// Helpers shared by the collection subcommands of tqindex (build, add,
// delete, query, info, verify, compact, backup, bench, demo): flag parsing of
// codecs and metrics, streaming a vector file into an index, exact ground
// truth by brute force, recall, timing, and a small JSON object writer.
#ifndef TURBOQUANT_TOOLS_COLLECTION_UTIL_H_
#define TURBOQUANT_TOOLS_COLLECTION_UTIL_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "turboquant/codec.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace tqindex {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start);

// ---- JSON -------------------------------------------------------------------

// Builds one flat JSON object, keys in insertion order.
class JsonObject {
 public:
  JsonObject& Str(const std::string& key, const std::string& value);
  JsonObject& Int(const std::string& key, int64_t value);
  // Non-finite numbers become null (JSON has no NaN).
  JsonObject& Num(const std::string& key, double value);
  JsonObject& Bool(const std::string& key, bool value);
  std::string ToString() const;  // "{...}"

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

// ---- streaming input ----------------------------------------------------------

// Vectors to add and where their ids come from: an integer file with one id
// per row (`ids`), or consecutive numbers from `first_id`.
struct IngestSource {
  std::unique_ptr<turboquant::VectorReader> vectors;
  std::unique_ptr<turboquant::VectorReader> ids;  // null: first_id, first_id + 1, ...
  int64_t first_id = 0;
};

// Opens the input (and ids) files and checks them against each other: the ids
// file must have one column and as many rows as the input.
absl::StatusOr<IngestSource> OpenIngestSource(const std::string& input, const std::string& ids_path,
                                              int64_t first_id);

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

// ---- ground truth, recall, timing --------------------------------------------------

// The exact k nearest base rows (row numbers) of every query for `metric`,
// row-major num_queries x k, computed by brute force with float arithmetic on
// `threads` threads (0 = all); ties go to the smaller row number.
std::vector<int64_t> ExactTopK(const turboquant::Matrix& base, const turboquant::Matrix& queries,
                               turboquant::Metric metric, int k, int threads);

// Reads a ground-truth file and checks it fits the queries: one row per
// query, at least `k` ids per row.
absl::StatusOr<turboquant::IdMatrix> ReadGroundTruth(const std::string& path, int64_t num_queries,
                                                      int k);

// Mean over queries of |first k results ∩ first k true neighbours| / k.
double RecallAtK(const std::vector<int64_t>& results, int result_k,
                 const std::vector<int64_t>& truth, int truth_k, int k);
// Fraction of queries whose true nearest neighbour is among the first k results.
double OneRecallAtK(const std::vector<int64_t>& results, int result_k,
                    const std::vector<int64_t>& truth, int truth_k, int k);

struct Latency {
  double median_ms = 0;
  double p99_ms = 0;
  int64_t samples = 0;
};

// Times `samples` single-query searches (the first queries, one thread each).
absl::StatusOr<Latency> MeasureLatency(const turboquant::TurboQuantIndex& index,
                                       const turboquant::Matrix& queries,
                                       turboquant::SearchParams params, int64_t samples);

struct TimedResults {
  turboquant::SearchResults results;
  double seconds = 0;
};
// One batch Search call over all queries, timed.
absl::StatusOr<TimedResults> TimedSearch(const turboquant::TurboQuantIndex& index,
                                         const turboquant::Matrix& queries,
                                         const turboquant::SearchParams& params);

// Threads that `threads` = 0 stands for (every hardware thread).
int HardwareThreads();

// "12.3 MB", "512 B".
std::string HumanBytes(double bytes);

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
