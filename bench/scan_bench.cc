// Scan kernel benchmarks (src/scan): one query at a time (latency and code
// bandwidth) and batches of 1000 queries (QPS), single thread. Args: kind
// (0 mse, 1 prod), dim, bits, rows[, queries]; e.g. mse 3 vs 4 bits at 1M x 128:
//   scan_bench --benchmark_filter='/0/128/'
//
// Codes are real: Gaussian vectors encoded once per configuration (cached for
// the process), so norms, scalars and index statistics are those of the index.
// Counters:
//   bytes_per_second  bytes of codes + per-vector floats scanned per second
//   ms_per_query_1M   milliseconds per query, scaled to 1 M vectors
//   items_per_second  queries per second
#include <chrono>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/scan/scan.h"
#include "src/util/random.h"
#include "turboquant/codec.h"

namespace turboquant::internal {
namespace {

constexpr size_t kKeep = 100;

// Approximately Gaussian components (Irwin-Hall: a sum of 4 uniforms, centred
// and scaled to unit variance): the scan's speed does not depend on the exact
// distribution, and this is ~10x cheaper than Box-Muller for 128 M values.
std::vector<float> Gaussian(size_t n, int dim, uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> x(n * dim);
  for (float& v : x) {
    const uint64_t bits = random.Next();
    float sum = 0.0f;
    for (int k = 0; k < 4; ++k) sum += float((bits >> (16 * k)) & 0xFFFF) * (1.0f / 65536.0f);
    v = (sum - 2.0f) * 1.7320508f;  // variance of the sum is 4/12
  }
  return x;
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Dataset {
  std::unique_ptr<Codec> codec;
  std::unique_ptr<ScanLayout> layout;
};

const Dataset& GetDataset(CodecKind kind, int dim, int bits, size_t n) {
  static auto* cache = new std::map<std::tuple<int, int, int, size_t>, Dataset>();
  Dataset& d = (*cache)[{int(kind), dim, bits, n}];
  if (d.layout) return d;
  CodecOptions options;
  options.dim = dim;
  options.bits = bits;
  d.codec = std::move(*Codec::Create(kind, options));
  d.layout = std::make_unique<ScanLayout>(*d.codec);
  constexpr size_t kChunk = 16384;
  std::vector<uint8_t> codes;
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const size_t count = std::min(kChunk, n - begin);
    const std::vector<float> x = Gaussian(count, dim, 1000 + begin);
    codes.resize(count * d.codec->code_size());
    if (!d.codec->Encode(x, absl::MakeSpan(codes)).ok()) std::abort();
    d.layout->Append(codes.data(), count);
  }
  return d;
}

void SetLabels(benchmark::State& state, const Dataset& d, size_t n, size_t queries,
               double seconds) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(queries) *
                          int64_t(d.layout->scan_bytes()));
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(queries));
  // Wall time per query, scaled to 1 M vectors (the FAISS comparison unit).
  state.counters["ms_per_query_1M"] =
      seconds * 1e3 / double(state.iterations()) / double(queries) * (1e6 / double(n));
  state.counters["bytes_per_vector"] = double(d.layout->scan_bytes()) / double(n);
  state.SetLabel(std::string(CodecKindName(d.codec->kind())) +
                 " d=" + std::to_string(d.codec->dim()) + " b=" + std::to_string(d.codec->bits()));
}

// args: kind (0 mse, 1 prod), dim, bits, n
void BM_SingleQuery(benchmark::State& state) {
  const CodecKind kind = state.range(0) ? CodecKind::kProd : CodecKind::kMse;
  const int dim = int(state.range(1)), bits = int(state.range(2));
  const size_t n = size_t(state.range(3));
  const Dataset& d = GetDataset(kind, dim, bits, n);
  const std::vector<float> queries = Gaussian(64, dim, 7);
  std::vector<std::vector<Candidate>> best;
  size_t i = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    // Table building is part of a query's latency.
    const QueryTables tables(*d.codec, queries.data() + (i++ % 64) * dim, 1,
                             ScanObjective::kInnerProduct);
    best.assign(1, {});
    ScanForCandidates(*d.layout, tables, 0, d.layout->num_blocks(), RowMask(), kKeep, &best);
    benchmark::DoNotOptimize(best.data());
  }
  SetLabels(state, d, n, 1, Seconds(start));
}

void BM_Batch(benchmark::State& state) {
  const CodecKind kind = state.range(0) ? CodecKind::kProd : CodecKind::kMse;
  const int dim = int(state.range(1)), bits = int(state.range(2));
  const size_t n = size_t(state.range(3));
  const size_t num_queries = size_t(state.range(4));
  const Dataset& d = GetDataset(kind, dim, bits, n);
  const std::vector<float> queries = Gaussian(num_queries, dim, 8);
  std::vector<std::vector<Candidate>> best;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const QueryTables tables(*d.codec, queries.data(), num_queries, ScanObjective::kInnerProduct);
    best.assign(num_queries, {});
    ScanForCandidates(*d.layout, tables, 0, d.layout->num_blocks(), RowMask(), kKeep, &best);
    benchmark::DoNotOptimize(best.data());
  }
  SetLabels(state, d, n, num_queries, Seconds(start));
}

// mse 3 bits (dense: 3 bits per coordinate) beside mse 4 bits at each size;
// prod 4 bits holds 3-bit MSE indices too.
std::vector<int> BitsOf(int kind) {
  return kind == 0 ? std::vector<int>{3, 4} : std::vector<int>{4};
}
void SingleArgs(benchmark::internal::Benchmark* b) {
  for (int kind : {0, 1}) {
    for (int bits : BitsOf(kind)) {
      b->Args({kind, 128, bits, 1000000});
      b->Args({kind, 768, bits, 100000});
      b->Args({kind, 1536, bits, 100000});
    }
  }
}
void BatchArgs(benchmark::internal::Benchmark* b) {
  for (int kind : {0, 1}) {
    for (int bits : BitsOf(kind)) {
      b->Args({kind, 128, bits, 1000000, 1000});
      b->Args({kind, 768, bits, 100000, 1000});
      b->Args({kind, 1536, bits, 100000, 1000});
    }
  }
}

BENCHMARK(BM_SingleQuery)->Apply(SingleArgs)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Batch)->Apply(BatchArgs)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace turboquant::internal
