// tqindex query: searches a collection with a file of queries, measuring
// throughput (one batch call), single-query latency (a sample of one-thread
// calls) and, with ground truth, recall@k. Opens the collection read-only, so
// it can search one that a service holds open for writing.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "tools/search_timing.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace tqindex {
namespace {

using turboquant::Filter;
using turboquant::Matrix;
using turboquant::SearchParams;
using turboquant::TurboQuantIndex;

constexpr char kName[] = "query";

struct Options {
  std::string index, queries, groundtruth, output;
  turboquant::VectorReaderOptions queries_options, groundtruth_options, filter_options;
  std::string filter_ids;  // --allow-ids or --exclude-ids; empty: no filter
  bool exclude = false;    // filter_ids came from --exclude-ids
  SearchParams params;
  int64_t latency_queries = 0;
  bool json = false;
};

void DeclareFlags(FlagSet& flags) {
  flags.AddString("index", std::nullopt, "DIR", "The collection.");
  flags.AddString("queries", std::nullopt, "F",
                  "Query vectors (.fvecs .bvecs .fbin .u8bin .npy, IDX ...), the collection's "
                  "dimension.");
  AddHdf5DatasetFlag(flags, "queries-dataset", "queries", "test");
  flags.AddInt("k", 10, "K", "Results per query, 1..100000.");
  flags.AddInt("rerank", 0, "R",
               "Re-rank the best R candidates with the original vectors (exact scores); needs a "
               "collection built with --keep-vectors. 0 = no re-ranking.");
  flags.AddInt("rescore", 0, "N",
               "Candidates kept from the code scan and re-scored with the codec's float "
               "estimator; 0 = max(4k, 64).");
  flags.AddInt("threads", 0, "T", "Threads of the batch search; 0 = all hardware threads.");
  flags.AddString("groundtruth", "", "F",
                  "Integer file of the true neighbours, one row per query, best first (.ivecs "
                  ".ibin .npy); adds recall@k to the report.");
  AddHdf5DatasetFlag(flags, "groundtruth-dataset", "groundtruth", "neighbors");
  flags.AddString("allow-ids", "", "F",
                  "Return only the ids listed in F (.ivecs .ibin .npy ..., every value of every "
                  "row). An empty list returns no results at all (write it as .ibin or .npy: an "
                  "empty .ivecs file cannot be read).");
  flags.AddString("exclude-ids", "", "F", "Never return the ids listed in F (same formats).");
  AddHdf5DatasetFlag(flags, "ids-dataset", "allow-ids or --exclude-ids", "ids");
  flags.AddString("output", "", "F",
                  "Write the result ids, one row of k per query, to F (.ivecs .ibin .npy); -1 "
                  "marks a missing result.");
  flags.AddInt("latency-queries", 200, "N",
               "Single-query searches timed for the latency (the first N queries), 0..100000.");
  flags.AddBool("json", "Print exactly one JSON object instead of the report.");
}

absl::StatusOr<Options> ReadOptions(const FlagSet& flags) {
  Options o;
  TQINDEX_ASSIGN_OR_RETURN(o.index, flags.GetString("index"));
  TQINDEX_ASSIGN_OR_RETURN(o.queries, flags.GetString("queries"));
  TQINDEX_ASSIGN_OR_RETURN(o.queries_options, ReadHdf5DatasetFlag(flags, "queries-dataset"));
  TQINDEX_ASSIGN_OR_RETURN(o.groundtruth, flags.GetString("groundtruth"));
  TQINDEX_ASSIGN_OR_RETURN(o.groundtruth_options,
                           ReadHdf5DatasetFlag(flags, "groundtruth-dataset"));
  TQINDEX_ASSIGN_OR_RETURN(const std::string allow_ids, flags.GetString("allow-ids"));
  TQINDEX_ASSIGN_OR_RETURN(const std::string exclude_ids, flags.GetString("exclude-ids"));
  if (!allow_ids.empty() && !exclude_ids.empty()) {
    return absl::InvalidArgumentError(
        "--allow-ids and --exclude-ids exclude each other: a search takes one filter");
  }
  o.exclude = !exclude_ids.empty();
  o.filter_ids = o.exclude ? exclude_ids : allow_ids;
  TQINDEX_ASSIGN_OR_RETURN(o.filter_options, ReadHdf5DatasetFlag(flags, "ids-dataset"));
  TQINDEX_ASSIGN_OR_RETURN(o.output, flags.GetString("output"));
  if (absl::Status s = ReadSearchFlags(flags, &o.params); !s.ok()) return s;
  TQINDEX_ASSIGN_OR_RETURN(o.latency_queries, flags.GetIntInRange("latency-queries", 0, 100000));
  o.json = flags.GetBool("json");
  return o;
}

// The filter of --allow-ids / --exclude-ids, which holds `*count` ids.
absl::StatusOr<Filter> ReadFilter(const Options& o, int64_t* count) {
  *count = 0;
  if (o.filter_ids.empty()) return Filter();
  TQINDEX_ASSIGN_OR_RETURN(const turboquant::IdMatrix ids,
                           turboquant::ReadIdRows(o.filter_ids, o.filter_options));
  *count = static_cast<int64_t>(ids.data.size());
  return o.exclude ? Filter::Exclude(ids.data) : Filter::AllowOnly(ids.data);
}

// "allowing only the 3 ids of F" / "excluding ...", or "" without a filter.
std::string FilterText(const Options& o, int64_t count) {
  if (o.filter_ids.empty()) return "";
  return absl::StrFormat(", %s the %d ids of %s", o.exclude ? "excluding" : "allowing only", count,
                         o.filter_ids);
}

absl::Status Query(const Options& o) {
  TQINDEX_ASSIGN_OR_RETURN(std::unique_ptr<TurboQuantIndex> index,
                           OpenCollectionDir(o.index, Access::kRead));
  SearchParams params = o.params;
  int64_t filter_count = 0;
  TQINDEX_ASSIGN_OR_RETURN(params.filter, ReadFilter(o, &filter_count));
  TQINDEX_ASSIGN_OR_RETURN(const Matrix queries,
                           turboquant::ReadVectors(o.queries, o.queries_options));
  if (absl::Status s =
          CheckDimension("queries", o.queries, queries.dim, o.index, index->options().dim);
      !s.ok()) {
    return s;
  }
  const int k = params.k;
  turboquant::IdMatrix truth;
  if (!o.groundtruth.empty()) {
    TQINDEX_ASSIGN_OR_RETURN(
        truth, ReadGroundTruth(o.groundtruth, o.groundtruth_options, queries.rows, k));
  }
  TQINDEX_ASSIGN_OR_RETURN(const SearchMeasurement search,
                           MeasureSearch(*index, queries, params, o.latency_queries));
  const turboquant::SearchResults& results = search.results;
  const int64_t found =
      std::count_if(results.ids.begin(), results.ids.end(), [](int64_t id) { return id >= 0; });
  const Latency& latency = search.latency;
  if (!o.output.empty()) {
    turboquant::IdMatrix ids;
    ids.rows = queries.rows;
    ids.dim = k;
    ids.data = results.ids;
    if (absl::Status s = turboquant::WriteIdRows(o.output, ids); !s.ok()) return s;
  }
  const double qps = search.qps;
  const int threads = EffectiveThreads(params.threads);
  const bool has_truth = !o.groundtruth.empty();
  const double recall = has_truth ? RecallAtK(results.ids, k, truth.data, truth.dim, k) : 0;
  const double recall_1 = has_truth ? OneRecallAtK(results.ids, k, truth.data, truth.dim, k) : 0;
  if (o.json) {
    JsonObject json;
    json.Str("index", o.index)
        .Int("queries", queries.rows)
        .Int("k", k)
        .Int("rerank", params.rerank)
        .Int("rescore", params.rescore)
        .Int("threads", threads)
        .Int("results", found)
        .Num("qps", qps)
        .Num("latency_ms", latency.median_ms)
        .Num("latency_p99_ms", latency.p99_ms)
        .Int("latency_queries", latency.samples);
    if (!o.filter_ids.empty()) {
      json.Str("filter", o.exclude ? "exclude" : "allow").Int("filter_ids", filter_count);
    }
    if (has_truth) json.Num("recall_at_k", recall).Num("recall_1_at_k", recall_1);
    if (!o.output.empty()) json.Str("output", o.output);
    json.Print();
    return absl::OkStatus();
  }
  absl::PrintF("query %s: %d queries, k %d, rerank %d, rescore %s%s\n", o.index, queries.rows, k,
               params.rerank, params.rescore == 0 ? "auto" : absl::StrCat(params.rescore),
               FilterText(o, filter_count));
  if (has_truth) {
    absl::PrintF("  recall@%d   %.4f   (true nearest neighbour in the top %d: %.4f)\n", k, recall,
                 k, recall_1);
  }
  absl::PrintF("  qps         %.0f   (one batch call, %d threads)\n", qps, threads);
  if (latency.samples > 0) {
    absl::PrintF("  latency     %.3f ms median, %.3f ms p99   (%d single-query searches, 1 thread)\n",
                 latency.median_ms, latency.p99_ms, latency.samples);
  }
  if (!o.output.empty()) {
    absl::PrintF("  results     %s (%d rows of %d ids)\n", o.output, queries.rows, k);
    return absl::OkStatus();
  }
  const int64_t shown = std::min<int64_t>(queries.rows, 5);
  absl::PrintF("first %d queries, id (score) best first; --output F writes all of them:\n", shown);
  for (int64_t q = 0; q < shown; ++q) {
    std::string line = absl::StrFormat("  %d:", q);
    const size_t first = static_cast<size_t>(q) * k;
    if (results.ids[first] < 0) line += " no results";
    for (int j = 0; j < std::min(k, 10); ++j) {
      if (results.ids[first + j] < 0) break;
      absl::StrAppendFormat(&line, " %d (%.4g)", results.ids[first + j], results.scores[first + j]);
    }
    if (k > 10) line += " ...";
    absl::PrintF("%s\n", line);
  }
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& args) {
  return RunCommand(
      kName, args, DeclareFlags, ReadOptions, Query,
      "Searches the collection for the k best matches of every query. Reports the\n"
      "throughput of one batch Search call over all queries (--threads) as qps, the\n"
      "median and p99 latency of single-query searches on one thread, and with\n"
      "--groundtruth the recall@k: the mean fraction of the true top k found in the\n"
      "returned top k. Ground-truth ids must be the collection's ids (row numbers for a\n"
      "collection built without --ids). For HDF5 files (.hdf5 .h5, as ann-benchmarks\n"
      "ships them) --queries-dataset and --groundtruth-dataset pick the datasets; one\n"
      "file can serve as both --queries and --groundtruth.\n"
      "\n"
      "--allow-ids F returns only ids listed in F, --exclude-ids F never returns them\n"
      "(the library's Filter: an allow list with no ids returns nothing, never\n"
      "everything). Slots without a qualifying id hold -1 in --output. Recall compares\n"
      "with --groundtruth as given, so compute that with the same filter. The\n"
      "collection is opened read-only: query works while a service holds it open\n"
      "for writing, and sees the writes acknowledged before it started.",
      {"tqindex query --index sift.tq --queries sift_query.fvecs --k 10 "
       "--groundtruth sift_groundtruth.ivecs",
       "tqindex query --index sift.tq --queries q.fvecs --k 100 --rerank 200 --output "
       "results.ivecs --json",
       "tqindex query --index glove.tq --queries glove-100-angular.hdf5 --groundtruth "
       "glove-100-angular.hdf5 --k 10",
       "tqindex query --index docs.tq --queries q.fvecs --k 10 --allow-ids tenant7_ids.ibin"});
}

}  // namespace

Command QueryCommand() {
  return {kName, "search a collection: results, qps, latency, recall@k with ground truth", &Run};
}

}  // namespace tqindex
