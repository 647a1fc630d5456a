#include "bench/compare/turboquant_methods.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "turboquant/index.h"

namespace tqbench {
namespace {

turboquant::Metric IndexMetric(BenchMetric metric) {
  switch (metric) {
    case BenchMetric::kInnerProduct: return turboquant::Metric::kInnerProduct;
    case BenchMetric::kCosine: return turboquant::Metric::kCosine;
    case BenchMetric::kL2: return turboquant::Metric::kL2;
  }
  return turboquant::Metric::kInnerProduct;
}

class TurboQuantSearcher : public Searcher {
 public:
  TurboQuantSearcher(const turboquant::TurboQuantIndex* index, const Dataset& data, int rerank,
                     double scanned_bytes)
      : index_(index), data_(data), rerank_(rerank), scanned_bytes_(scanned_bytes) {}

  void Search(int64_t first, int64_t count, int k, int threads, int64_t* ids) override {
    turboquant::SearchParams params;
    params.k = k;
    params.rerank = rerank_;
    params.threads = threads;
    auto results = index_->Search(
        absl::MakeConstSpan(data_.queries.data() + first * data_.dim,
                            static_cast<size_t>(count) * data_.dim),
        params);
    if (!results.ok()) {
      std::fprintf(stderr, "tq_compare: TurboQuantIndex::Search failed: %s\n",
                   std::string(results.status().message()).c_str());
      std::exit(1);
    }
    if (results->k != k || results->ids.size() != static_cast<size_t>(count) * k) {
      std::fprintf(stderr, "tq_compare: TurboQuantIndex::Search returned %zu ids for %lld x %d\n",
                   results->ids.size(), static_cast<long long>(count), k);
      std::exit(1);
    }
    std::copy(results->ids.begin(), results->ids.end(), ids);
  }
  double ScannedBytesPerQuery() const override { return scanned_bytes_; }

 private:
  const turboquant::TurboQuantIndex* index_;
  const Dataset& data_;
  int rerank_;
  double scanned_bytes_;
};

}  // namespace

void RunTurboQuant(const Dataset& data, turboquant::CodecKind codec, int bits, int rerank,
                   int build_threads, const MeasureOptions& measure, const EmitRow& emit) {
  (void)build_threads;  // TurboQuantIndex::Add has no thread knob; it uses what it uses.
  Row row;
  row.method = codec == turboquant::CodecKind::kProd ? "turboquant-prod" : "turboquant-mse";
  row.bits_per_dim = bits;
  turboquant::IndexOptions options;
  options.dim = data.dim;
  options.bits = bits;
  options.codec = codec;
  options.metric = IndexMetric(data.metric);
  options.keep_vectors = rerank > 0;
  row.params = std::string(turboquant::CodecKindName(codec)) + " b=" + std::to_string(bits) +
               (options.keep_vectors ? " keep_vectors" : "");

  const double start = Seconds();
  auto created = turboquant::TurboQuantIndex::Create(options);
  if (!created.ok()) {
    std::fprintf(stderr, "  %s b=%d: Create failed: %s; skipped\n", row.method.c_str(), bits,
                 std::string(created.status().message()).c_str());
    return;
  }
  std::unique_ptr<turboquant::TurboQuantIndex> index = *std::move(created);
  std::vector<int64_t> ids(data.num_base);
  std::iota(ids.begin(), ids.end(), int64_t{0});
  const turboquant::Status added = index->Add(ids, data.base);
  if (!added.ok()) {
    std::fprintf(stderr, "  %s b=%d: Add failed: %s; skipped\n", row.method.c_str(), bits,
                 std::string(added.message()).c_str());
    return;
  }
  row.build_s = Seconds() - start;
  ids.clear();
  ids.shrink_to_fit();

  const turboquant::IndexStats stats = index->Stats();
  row.bytes_per_vector = static_cast<double>(stats.bytes_per_vector);
  // What a full scan reads: all codes and per-vector scalars as laid out in memory.
  const double scanned = static_cast<double>(stats.code_bytes);
  std::fprintf(stderr,
               "  %s b=%d: built in %.2f s (%zu B/vector, %.1f MB codes, %.1f MB vectors), "
               "measuring...\n",
               row.method.c_str(), bits, row.build_s, stats.bytes_per_vector,
               stats.code_bytes / 1e6, stats.vector_bytes / 1e6);
  {
    TurboQuantSearcher searcher(index.get(), data, 0, scanned);
    Measure(&searcher, data, measure, &row);
    emit(row);
  }
  if (rerank <= 0) return;
  Row reranked = row;
  reranked.rerank = rerank;
  reranked.params = row.params + " rerank=" + std::to_string(rerank);
  reranked.bytes_per_vector = row.bytes_per_vector + 4.0 * data.dim;
  TurboQuantSearcher searcher(index.get(), data, rerank, scanned);
  Measure(&searcher, data, measure, &reranked);
  emit(reranked);
}

}  // namespace tqbench
