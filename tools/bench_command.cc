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
#include "tools/progress.h"
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
  IndexOptions index_options;
  SearchParams params;
  int64_t latency_queries = 0;
  bool json = false;
};

void DeclareFlags(FlagSet& flags) {
  flags.AddString("base", std::nullopt, "F",
                  "Base vectors (.fvecs .bvecs .fbin .u8bin .npy, IDX ...); row r gets id r.");
  flags.AddString("queries", std::nullopt, "F", "Query vectors, the base's dimension.");
  flags.AddString("groundtruth", "", "F",
                  "True neighbours (.ivecs .ibin .npy), one row per query, best first, at least "
                  "max(k, 10) per row. Without it they are computed exactly by brute force.");
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
  TQINDEX_ASSIGN_OR_RETURN(o.queries, flags.GetString("queries"));
  TQINDEX_ASSIGN_OR_RETURN(o.groundtruth, flags.GetString("groundtruth"));
  TQINDEX_ASSIGN_OR_RETURN(const std::string codec, flags.GetString("codec"));
  TQINDEX_ASSIGN_OR_RETURN(o.index_options.codec, ParseCodecFlag(codec));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t bits, flags.GetInt("bits"));
  if (absl::Status s = CheckBitsFlag(o.index_options.codec, bits); !s.ok()) return s;
  o.index_options.bits = static_cast<int>(bits);
  TQINDEX_ASSIGN_OR_RETURN(const std::string metric, flags.GetString("metric"));
  TQINDEX_ASSIGN_OR_RETURN(o.index_options.metric, ParseMetricFlag(metric));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t k, flags.GetIntInRange("k", 1, 100000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t rerank, flags.GetIntInRange("rerank", 0, 1000000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t rescore, flags.GetIntInRange("rescore", 0, 1000000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t threads, flags.GetIntInRange("threads", 0, 4096));
  TQINDEX_ASSIGN_OR_RETURN(o.latency_queries, flags.GetIntInRange("latency-queries", 1, 100000));
  o.params.k = static_cast<int>(k);
  o.params.rerank = static_cast<int>(rerank);
  o.params.rescore = static_cast<int>(rescore);
  o.params.threads = static_cast<int>(threads);
  o.index_options.keep_vectors = rerank > 0;
  o.json = flags.GetBool("json");
  return o;
}

absl::Status Bench(Options& o) {
  TQINDEX_ASSIGN_OR_RETURN(const Matrix base, turboquant::ReadVectors(o.base));
  TQINDEX_ASSIGN_OR_RETURN(const Matrix queries, turboquant::ReadVectors(o.queries));
  if (queries.dim != base.dim) {
    return absl::InvalidArgumentError(
        absl::StrFormat("dimension mismatch: queries %s have dimension %d, base %s has %d",
                        o.queries, queries.dim, o.base, base.dim));
  }
  const int k = o.params.k;
  const int truth_k = std::max(k, 10);
  turboquant::IdMatrix truth;
  std::string truth_source = "file";
  if (!o.groundtruth.empty()) {
    TQINDEX_ASSIGN_OR_RETURN(truth, ReadGroundTruth(o.groundtruth, queries.rows, truth_k));
  } else {
    truth_source = "brute-force";
    truth.rows = queries.rows;
    truth.dim = truth_k;
    truth.data = ExactTopK(base, queries, o.index_options.metric, truth_k, o.params.threads);
  }

  // Build.
  o.index_options.dim = base.dim;
  const auto start = Clock::now();
  TQINDEX_ASSIGN_OR_RETURN(std::unique_ptr<TurboQuantIndex> index,
                           TurboQuantIndex::Create(o.index_options));
  {
    constexpr int64_t kBatch = 10000;
    Progress progress("building", base.rows);
    std::vector<int64_t> ids;
    for (int64_t r = 0; r < base.rows; r += kBatch) {
      const int64_t n = std::min(kBatch, base.rows - r);
      ids.resize(n);
      for (int64_t i = 0; i < n; ++i) ids[i] = r + i;
      if (absl::Status s = index->Add(
              ids, absl::MakeConstSpan(base.data.data() + r * base.dim, n * base.dim));
          !s.ok()) {
        return s;
      }
      progress.Update(r + n);
    }
  }
  const double build_s = SecondsSince(start);

  // Search: one thread, all threads, single queries.
  SearchParams one = o.params;
  one.threads = 1;
  TQINDEX_ASSIGN_OR_RETURN(const TimedResults single, TimedSearch(*index, queries, one));
  TQINDEX_ASSIGN_OR_RETURN(const TimedResults all, TimedSearch(*index, queries, o.params));
  TQINDEX_ASSIGN_OR_RETURN(const Latency latency,
                           MeasureLatency(*index, queries, o.params, o.latency_queries));
  const std::vector<int64_t>& ids = all.results.ids;
  const double recall_10 = RecallAtK(ids, k, truth.data, truth.dim, 10);
  const double recall_1_10 = OneRecallAtK(ids, k, truth.data, truth.dim, 10);
  const double recall_k = RecallAtK(ids, k, truth.data, truth.dim, k);
  const turboquant::IndexStats stats = index->Stats();
  const double bytes_per_vector =
      stats.count > 0 ? static_cast<double>(stats.code_bytes) / stats.count : 0;
  const int threads = o.params.threads == 0 ? HardwareThreads() : o.params.threads;
  const double qps_1t = single.seconds > 0 ? queries.rows / single.seconds : 0;
  const double qps_all = all.seconds > 0 ? queries.rows / all.seconds : 0;
  const std::string method =
      absl::StrCat("turboquant-", turboquant::CodecKindName(o.index_options.codec));

  if (o.json) {
    std::printf("%s\n", JsonObject()
                            .Str("method", method)
                            .Str("base", o.base)
                            .Str("metric", turboquant::MetricName(o.index_options.metric))
                            .Int("rows", base.rows)
                            .Int("dim", base.dim)
                            .Int("queries", queries.rows)
                            .Int("k", k)
                            .Int("rerank", o.params.rerank)
                            .Int("bits_per_dim", o.index_options.bits)
                            .Num("bytes_per_vector", bytes_per_vector)
                            .Num("build_s", build_s)
                            .Num("recall_at_10", recall_10)
                            .Num("recall_1_at_10", recall_1_10)
                            .Num("recall_at_k", recall_k)
                            .Num("latency_ms", latency.median_ms)
                            .Num("qps_1t", qps_1t)
                            .Num("qps_all", qps_all)
                            .Int("threads", threads)
                            .Str("groundtruth", truth_source)
                            .ToString()
                            .c_str());
    return absl::OkStatus();
  }
  absl::PrintF("bench: %s, %d x %d base, %d queries, metric %s, k %d, ground truth from %s\n",
               o.base, base.rows, base.dim, queries.rows,
               turboquant::MetricName(o.index_options.metric), k,
               o.groundtruth.empty() ? "brute force" : o.groundtruth);
  absl::PrintF("%-16s %6s %4s %10s %8s %9s %10s %10s %9s %9s\n", "method", "rerank", "bits",
               "bytes/vec", "build_s", "recall@10", "1-recall@10", "latency_ms", "qps_1t",
               absl::StrFormat("qps_%dt", threads));
  absl::PrintF("%-16s %6d %4d %10.1f %8.2f %9.4f %10.4f %10.3f %9.0f %9.0f\n", method,
               o.params.rerank, o.index_options.bits, bytes_per_vector, build_s, recall_10,
               recall_1_10, latency.median_ms, qps_1t, qps_all);
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  DeclareFlags(flags);
  if (absl::Status s = flags.Parse(args); !s.ok()) return UsageError(kName, s);
  if (flags.help_requested()) {
    std::fputs(
        CommandHelp(
            kName,
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
            "arithmetic, --threads threads).",
            flags,
            {"tqindex bench --base siftsmall_base.fvecs --queries siftsmall_query.fvecs "
             "--groundtruth siftsmall_groundtruth.ivecs --metric l2 --bits 4 --codec mse",
             "tqindex bench --base docs.fvecs --queries q.fvecs --metric cosine --bits 2 "
             "--codec prod --rerank 100 --json"})
            .c_str(),
        stdout);
    return kExitOk;
  }
  absl::StatusOr<Options> options = ReadOptions(flags);
  if (!options.ok()) return UsageError(kName, options.status());
  if (absl::Status s = Bench(*options); !s.ok()) return Failure(kName, s);
  return kExitOk;
}

}  // namespace

Command BenchCommand() {
  return {kName, "benchmark one configuration in memory: recall@10, latency, qps (one row)",
          &Run};
}

}  // namespace tqindex
