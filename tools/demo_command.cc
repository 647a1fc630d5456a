// tqindex demo (what `make demo` runs): TurboQuant on Fashion-MNIST from
// Debian's dataset-fashion-mnist package. Builds a durable 4-bit collection
// in a temporary directory, computes exact ground truth by brute force, and
// prints build speed, size, recall@10 with and without exact re-ranking, QPS
// and latency. The temporary directory is removed at the end.

#include <cstdio>
#include <filesystem>
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

namespace fs = std::filesystem;
using turboquant::IndexOptions;
using turboquant::Matrix;
using turboquant::SearchParams;
using turboquant::TurboQuantIndex;

constexpr char kName[] = "demo";
constexpr char kDataDir[] = "/usr/share/datasets/fashion-mnist";
constexpr char kBaseFile[] = "train-images-idx3-ubyte.gz";
constexpr char kQueryFile[] = "t10k-images-idx3-ubyte.gz";
constexpr int kK = 10;
constexpr int kRerank = 100;

struct Options {
  int64_t queries = 0;
  int bits = 0;
  int threads = 0;
  std::string data_dir;
};

void DeclareFlags(FlagSet& flags) {
  flags.AddInt("queries", 1000, "N", "Query images: the first N of the 10000 test images.");
  flags.AddInt("bits", 4, "B", "Bits per coordinate of the default codec, 1..8.");
  flags.AddString("data", kDataDir, "DIR",
                  "Where train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz are (Debian "
                  "package dataset-fashion-mnist).");
}

absl::StatusOr<Options> ReadOptions(const FlagSet& flags) {
  Options o;
  TQINDEX_ASSIGN_OR_RETURN(o.queries, flags.GetIntInRange("queries", 1, 10000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t bits, flags.GetInt("bits"));
  if (absl::Status s = CheckBitsFlag(turboquant::kDefaultIndexCodec, bits); !s.ok()) return s;
  o.bits = static_cast<int>(bits);
  TQINDEX_ASSIGN_OR_RETURN(o.data_dir, flags.GetString("data"));
  return o;
}

// The data files are there, or an error that says how to install them.
absl::Status CheckDataFiles(const std::string& data_dir) {
  std::error_code error;
  for (const char* file : {kBaseFile, kQueryFile}) {
    const fs::path path = fs::path(data_dir) / file;
    if (!fs::exists(path, error)) {
      return absl::NotFoundError(absl::StrFormat(
          "Fashion-MNIST not found (%s is missing); install Debian's package with 'sudo apt-get "
          "install dataset-fashion-mnist' (or 'make deps'), or pass --data DIR",
          path.string()));
    }
  }
  return absl::OkStatus();
}

struct SearchReport {
  double recall = 0;
  double qps = 0;
  Latency latency;
};

absl::StatusOr<SearchReport> RunQueries(const TurboQuantIndex& index, const Matrix& queries,
                                        const turboquant::IdMatrix& truth, int rerank) {
  SearchParams params;
  params.k = kK;
  params.rerank = rerank;
  params.threads = 0;
  TQINDEX_ASSIGN_OR_RETURN(const SearchMeasurement search,
                           MeasureSearch(index, queries, params, 200));
  SearchReport report;
  report.recall = RecallAtK(search.results.ids, kK, truth.data, truth.dim, kK);
  report.qps = search.qps;
  report.latency = search.latency;
  return report;
}

absl::Status Demo(const Options& o) {
  if (absl::Status s = CheckDataFiles(o.data_dir); !s.ok()) return s;
  const int threads = HardwareThreads();
  absl::PrintF("TurboQuant demo: Fashion-MNIST (%s), %d threads\n\n", o.data_dir, threads);

  // Data.
  auto start = Clock::now();
  TQINDEX_ASSIGN_OR_RETURN(const Matrix base,
                           turboquant::ReadVectors((fs::path(o.data_dir) / kBaseFile).string()));
  TQINDEX_ASSIGN_OR_RETURN(std::unique_ptr<turboquant::VectorReader> query_reader,
                           turboquant::VectorReader::Open((fs::path(o.data_dir) / kQueryFile).string()));
  Matrix queries;
  queries.dim = query_reader->dim();
  TQINDEX_ASSIGN_OR_RETURN(queries.rows, query_reader->ReadRows(o.queries, &queries.data));
  absl::PrintF("data      %d base images and %d query images of 28x28 = %d pixels (read in %.1f s)\n",
               base.rows, queries.rows, base.dim, SecondsSince(start));

  // Build a durable collection.
  TQINDEX_ASSIGN_OR_RETURN(std::unique_ptr<TemporaryDirectory> temp,
                           TemporaryDirectory::Make("tqindex-demo"));
  const std::string dir = (fs::path(temp->path()) / "fashion-mnist.tq").string();
  IndexOptions options;
  options.dim = base.dim;
  options.bits = o.bits;
  options.metric = turboquant::Metric::kL2;
  options.keep_vectors = true;
  start = Clock::now();
  TQINDEX_ASSIGN_OR_RETURN(std::unique_ptr<TurboQuantIndex> index,
                           TurboQuantIndex::Create(dir, options));
  std::vector<int64_t> ids(static_cast<size_t>(base.rows));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i);
  std::unique_ptr<turboquant::RowSource> rows =
      turboquant::RowSourceFromSpans(ids, base.data, base.dim);
  if (auto loaded = BulkLoadWithProgress(*index, *rows, {}, "building"); !loaded.ok()) {
    return loaded.status();
  }
  const double build_s = SecondsSince(start);
  const turboquant::IndexStats stats = index->Stats();
  absl::PrintF("build     %s codec, %d bits/coordinate, metric l2, float vectors kept for "
               "re-ranking\n",
               turboquant::CodecKindName(options.codec), o.bits);
  absl::PrintF("          %.2f s for %d vectors = %.0f vectors/s (durable: bulk load into "
               "fsynced segment files)\n",
               build_s, base.rows, base.rows / build_s);

  // Size.
  const double float_bytes = static_cast<double>(base.rows) * base.dim * sizeof(float);
  const double code_per_vector = static_cast<double>(stats.code_bytes) / stats.count;
  absl::PrintF("size      codes %.0f bytes/vector vs %d bytes as float32: %.1fx smaller "
               "(%s vs %s)\n",
               code_per_vector, base.dim * 4, base.dim * 4 / code_per_vector,
               HumanBytes(static_cast<double>(stats.code_bytes)), HumanBytes(float_bytes));
  absl::PrintF("          on disk %s in all = codes + the kept float vectors %s + catalog\n",
               HumanBytes(static_cast<double>(stats.bytes_on_disk)),
               HumanBytes(static_cast<double>(stats.vector_bytes)));

  // Ground truth.
  start = Clock::now();
  turboquant::IdMatrix truth;
  truth.rows = queries.rows;
  truth.dim = kK;
  truth.data = ExactTopK(base, queries, turboquant::Metric::kL2, kK, 0);
  const double truth_s = SecondsSince(start);
  absl::PrintF("exact     brute-force top %d for %d queries: %.2f s (%.0f queries/s, %d threads)\n",
               kK, queries.rows, truth_s, queries.rows / truth_s, threads);

  // Reopen (as a user would) and search.
  index.reset();
  start = Clock::now();
  TQINDEX_ASSIGN_OR_RETURN(index, TurboQuantIndex::Open(dir));
  const double open_ms = 1000 * SecondsSince(start);
  TQINDEX_ASSIGN_OR_RETURN(const SearchReport plain, RunQueries(*index, queries, truth, 0));
  TQINDEX_ASSIGN_OR_RETURN(const SearchReport reranked, RunQueries(*index, queries, truth, kRerank));
  absl::PrintF("search    reopened in %.0f ms; k = %d; qps = one batch call on %d threads; "
               "latency = median of single queries on 1 thread\n",
               open_ms, kK, threads);
  absl::PrintF("          %-24s recall@10 %.4f   %8.0f qps   %.3f ms\n", "codes only (no rerank)",
               plain.recall, plain.qps, plain.latency.median_ms);
  absl::PrintF("          %-24s recall@10 %.4f   %8.0f qps   %.3f ms\n",
               absl::StrFormat("--rerank %d (exact)", kRerank), reranked.recall, reranked.qps,
               reranked.latency.median_ms);
  absl::PrintF("          brute force (float32)    recall@10 1.0000   %8.0f qps\n",
               queries.rows / truth_s);

  start = Clock::now();
  if (absl::Status s = index->Verify(); !s.ok()) return s;
  absl::PrintF("verify    every checksum matches (%.2f s)\n", SecondsSince(start));
  index.reset();
  temp.reset();
  absl::PrintF("\nRemoved the temporary collection %s.\n", dir);
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& args) {
  return RunCommand(
      kName, args, DeclareFlags, ReadOptions, Demo,
      "Demonstrates TurboQuant on Fashion-MNIST (60000 base images of 784 pixels,\n"
      "queries from the test images): builds a durable collection in a temporary\n"
      "directory with the default codec, metric l2 and the float vectors kept,\n"
      "computes the exact neighbours by brute force, and reports build speed,\n"
      "size versus float32, recall@10 without and with exact re-ranking of 100\n"
      "candidates, QPS and latency. The directory is removed at the end.",
      {"tqindex demo", "tqindex demo --queries 200 --bits 2"});
}

}  // namespace

Command DemoCommand() {
  return {kName, "Fashion-MNIST demo: build, size, recall with/without re-ranking, speed", &Run};
}

}  // namespace tqindex
