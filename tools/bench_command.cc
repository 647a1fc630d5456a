// tqindex bench: one benchmark row for one configuration, on an in-memory
// index built from a base file: build time, recall@10 (against a ground-truth
// file, or exact neighbours computed here by brute force), latency and qps.
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

using turboquant::IndexOptions;
using turboquant::Matrix;
using turboquant::SearchParams;
using turboquant::TurboQuantIndex;

constexpr char kName[] = "bench";

struct Options {
  std::string base, queries, groundtruth;
  turboquant::VectorReaderOptions base_options, queries_options, groundtruth_options;
  IndexOptions index_options;
  SearchParams params;
  int64_t latency_queries = 0;
  bool json = false;
};

void DeclareFlags(FlagSet& flags) {
  flags.AddString("base", std::nullopt, "F",
                  "Base vectors (.fvecs .bvecs .fbin .u8bin .npy, IDX ...); row r gets id r.");
  AddHdf5DatasetFlag(flags, "base-dataset", "base", "train");
  flags.AddString("queries", std::nullopt, "F", "Query vectors, the base's dimension.");
  AddHdf5DatasetFlag(flags, "queries-dataset", "queries", "test");
  flags.AddString("groundtruth", "", "F",
                  "True neighbours (.ivecs .ibin .npy), one row per query, best first, at least "
                  "max(k, 10) per row. Without it they are computed exactly by brute force.");
  AddHdf5DatasetFlag(flags, "groundtruth-dataset", "groundtruth", "neighbors");
  flags.AddInt("bits", 4, "B", "Bits per coordinate: 1..8 for mse, 2..8 for prod.");
  flags.AddString("codec", turboquant::CodecKindName(turboquant::kDefaultIndexCodec), "mse|prod",
                  "The codec (see 'tqindex build --help').");
  flags.AddString("metric", "ip", "ip|cosine|l2", "Similarity of the search and ground truth.");
  flags.AddInt("k", 10, "K", "Results per query, 1..100000.");
  flags.AddInt("rerank", 0, "R",
               "Re-rank the best R candidates exactly (the index then keeps the float vectors); "
               "0 = none.");
  flags.AddInt("rescore", 0, "N", "Candidates re-scored with the float estimator; 0 = max(4k, 64).");
  flags.AddInt("threads", 0, "T", "Threads for qps_all and the ground truth; 0 = all.");
  flags.AddInt("latency-queries", 200, "N", "Single-query searches timed for latency_ms, 1..100000.");
  flags.AddBool("json", "Print exactly one JSON object (the row) instead of the table.");
}

absl::StatusOr<Options> ReadOptions(const FlagSet& flags) {
  Options o;
  TQINDEX_ASSIGN_OR_RETURN(o.base, flags.GetString("base"));
  TQINDEX_ASSIGN_OR_RETURN(o.base_options, ReadHdf5DatasetFlag(flags, "base-dataset"));
  TQINDEX_ASSIGN_OR_RETURN(o.queries, flags.GetString("queries"));
  TQINDEX_ASSIGN_OR_RETURN(o.queries_options, ReadHdf5DatasetFlag(flags, "queries-dataset"));
  TQINDEX_ASSIGN_OR_RETURN(o.groundtruth, flags.GetString("groundtruth"));
  TQINDEX_ASSIGN_OR_RETURN(o.groundtruth_options,
                           ReadHdf5DatasetFlag(flags, "groundtruth-dataset"));
  if (absl::Status s = ReadIndexFlags(flags, &o.index_options); !s.ok()) return s;
  if (absl::Status s = ReadSearchFlags(flags, &o.params); !s.ok()) return s;
  TQINDEX_ASSIGN_OR_RETURN(o.latency_queries, flags.GetIntInRange("latency-queries", 1, 100000));
  o.index_options.keep_vectors = o.params.rerank > 0;
  o.json = flags.GetBool("json");
  return o;
}

// The true max(k, 10) nearest base rows of every query: from --groundtruth,
// or computed by brute force.
absl::StatusOr<turboquant::IdMatrix> GroundTruth(const Options& o, const Matrix& base,
                                                 const Matrix& queries) {
  const int truth_k = std::max(o.params.k, 10);
  if (!o.groundtruth.empty()) {
    return ReadGroundTruth(o.groundtruth, o.groundtruth_options, queries.rows, truth_k);
  }
  turboquant::IdMatrix truth;
  truth.rows = queries.rows;
  truth.dim = truth_k;
  truth.data = ExactTopK(base, queries, o.index_options.metric, truth_k, o.params.threads);
  return truth;
}

// What one bench row reports besides the options.
struct Row {
  int64_t rows = 0, dim = 0, queries = 0;
  double bytes_per_vector = 0, build_s = 0;
  double recall_10 = 0, recall_1_10 = 0, recall_k = 0;
  double latency_ms = 0, qps_1t = 0, qps_all = 0;
};

void PrintJson(const Options& o, const Row& row) {
  JsonObject()
      .Str("method", absl::StrCat("turboquant-", turboquant::CodecKindName(o.index_options.codec)))
      .Str("base", o.base)
      .Str("metric", turboquant::MetricName(o.index_options.metric))
      .Int("rows", row.rows)
      .Int("dim", row.dim)
      .Int("queries", row.queries)
      .Int("k", o.params.k)
      .Int("rerank", o.params.rerank)
      .Int("bits_per_dim", o.index_options.bits)
      .Num("bytes_per_vector", row.bytes_per_vector)
      .Num("build_s", row.build_s)
      .Num("recall_at_10", row.recall_10)
      .Num("recall_1_at_10", row.recall_1_10)
      .Num("recall_at_k", row.recall_k)
      .Num("latency_ms", row.latency_ms)
      .Num("qps_1t", row.qps_1t)
      .Num("qps_all", row.qps_all)
      .Int("threads", EffectiveThreads(o.params.threads))
      .Str("groundtruth", o.groundtruth.empty() ? "brute-force" : "file")
      .Print();
}

void PrintTable(const Options& o, const Row& row) {
  const std::string method =
      absl::StrCat("turboquant-", turboquant::CodecKindName(o.index_options.codec));
  absl::PrintF("bench: %s, %d x %d base, %d queries, metric %s, k %d, ground truth from %s\n",
               o.base, row.rows, row.dim, row.queries,
               turboquant::MetricName(o.index_options.metric), o.params.k,
               o.groundtruth.empty() ? "brute force" : o.groundtruth);
  absl::PrintF("%-16s %6s %4s %10s %8s %9s %10s %10s %9s %9s\n", "method", "rerank", "bits",
               "bytes/vec", "build_s", "recall@10", "1-recall@10", "latency_ms", "qps_1t",
               absl::StrFormat("qps_%dt", EffectiveThreads(o.params.threads)));
  absl::PrintF("%-16s %6d %4d %10.1f %8.2f %9.4f %10.4f %10.3f %9.0f %9.0f\n", method,
               o.params.rerank, o.index_options.bits, row.bytes_per_vector, row.build_s,
               row.recall_10, row.recall_1_10, row.latency_ms, row.qps_1t, row.qps_all);
}

absl::Status Bench(Options& o) {
  TQINDEX_ASSIGN_OR_RETURN(const Matrix base, turboquant::ReadVectors(o.base, o.base_options));
  TQINDEX_ASSIGN_OR_RETURN(const Matrix queries,
                           turboquant::ReadVectors(o.queries, o.queries_options));
  if (queries.dim != base.dim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("dimension mismatch: queries %s have dimension %d, base %s has %d",
                        o.queries, queries.dim, o.base, base.dim));
  }
  TQINDEX_ASSIGN_OR_RETURN(const turboquant::IdMatrix truth, GroundTruth(o, base, queries));
  Row row;
  row.rows = base.rows;
  row.dim = base.dim;
  row.queries = queries.rows;

  o.index_options.dim = base.dim;
  const auto start = Clock::now();
  TQINDEX_ASSIGN_OR_RETURN(std::unique_ptr<TurboQuantIndex> index,
                           TurboQuantIndex::Create(o.index_options));
  if (absl::Status s = AddRowsByNumber(base, *index); !s.ok()) return s;
  row.build_s = SecondsSince(start);

  // Search: one thread, then all threads and single queries.
  SearchParams one = o.params;
  one.threads = 1;
  TQINDEX_ASSIGN_OR_RETURN(const TimedResults single, TimedSearch(*index, queries, one));
  TQINDEX_ASSIGN_OR_RETURN(const SearchMeasurement all,
                           MeasureSearch(*index, queries, o.params, o.latency_queries));
  const std::vector<int64_t>& ids = all.results.ids;
  const int k = o.params.k;
  row.recall_10 = RecallAtK(ids, k, truth.data, truth.dim, 10);
  row.recall_1_10 = OneRecallAtK(ids, k, truth.data, truth.dim, 10);
  row.recall_k = RecallAtK(ids, k, truth.data, truth.dim, k);
  const turboquant::IndexStats stats = index->Stats();
  row.bytes_per_vector = stats.count > 0 ? static_cast<double>(stats.code_bytes) / stats.count : 0;
  row.latency_ms = all.latency.median_ms;
  row.qps_1t = PerSecond(queries.rows, single.seconds);
  row.qps_all = all.qps;
  (o.json ? PrintJson : PrintTable)(o, row);
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& args) {
  return RunCommand(
      kName, args, DeclareFlags, ReadOptions, Bench,
      "Builds an in-memory index of --base (ids = row numbers) and reports one row:\n"
      "  method            turboquant-mse or turboquant-prod\n"
      "  bits_per_dim      --bits; bytes_per_vector is the stored code size per vector\n"
      "                    (codes + per-vector scalars, without kept float vectors)\n"
      "  build_s           time to add every base vector\n"
      "  recall_at_10      mean fraction of the true top 10 in the returned top 10\n"
      "  recall_1_at_10    fraction of queries whose true nearest is in the top 10\n"
      "  latency_ms        median single-query search, one thread\n"
      "  qps_1t, qps_all   one batch call over all queries, on 1 and --threads threads\n"
      "Without --groundtruth the exact neighbours are computed by brute force (float\n"
      "arithmetic, --threads threads). For HDF5 files (.hdf5 .h5, as ann-benchmarks ships\n"
      "them) --base-dataset, --queries-dataset and --groundtruth-dataset pick the\n"
      "datasets; one file can serve as --base, --queries and --groundtruth.",
      {"tqindex bench --base siftsmall_base.fvecs --queries siftsmall_query.fvecs "
       "--groundtruth siftsmall_groundtruth.ivecs --metric l2 --bits 4 --codec mse",
       "tqindex bench --base docs.fvecs --queries q.fvecs --metric cosine --bits 2 "
       "--codec prod --rerank 100 --json",
       "tqindex bench --base fashion-mnist-784-euclidean.hdf5 --queries "
       "fashion-mnist-784-euclidean.hdf5 --groundtruth fashion-mnist-784-euclidean.hdf5 "
       "--metric l2"});
}

}  // namespace

Command BenchCommand() {
  return {kName, "benchmark one configuration in memory: recall@10, latency, qps (one row)",
          &Run};
}

}  // namespace tqindex
