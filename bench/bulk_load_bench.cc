// TurboQuantIndex::BulkLoad into a new durable collection: rows/s of wall
// time for the load alone (creating and removing the collection are not
// timed), with and without kept vectors. Data: seeded uniform vectors held in
// memory, so the input costs nothing to read.
//
//   build/bench/bulk_load_bench --benchmark_filter='BulkLoad/1000000/128/2'
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "turboquant/bulk_load.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

namespace fs = std::filesystem;

std::vector<float> UniformVectors(int64_t n, int dim) {
  std::vector<float> out(static_cast<size_t>(n) * dim);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (float& x : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<float>(static_cast<int64_t>(state >> 40) - (int64_t{1} << 23)) / (1 << 23);
  }
  return out;
}

std::string TempRoot() {
  const char* tmp = getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/bulk-bench-XXXXXX";
  return mkdtemp(pattern.data()) != nullptr ? pattern : "";
}

// Arguments: rows, dim, threads, keep_vectors.
void BM_BulkLoad(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const int dim = static_cast<int>(state.range(1));
  const int threads = static_cast<int>(state.range(2));
  const bool keep = state.range(3) != 0;
  const std::vector<float> vectors = UniformVectors(rows, dim);
  std::vector<int64_t> ids(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) ids[i] = i;
  const std::string root = TempRoot();
  if (root.empty()) return state.SkipWithError("no temporary directory");
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = root + "/c" + std::to_string(run++);
    auto index = TurboQuantIndex::Create(dir, {.dim = dim, .keep_vectors = keep});
    if (!index.ok()) return state.SkipWithError(index.status().ToString().c_str());
    std::unique_ptr<RowSource> source = RowSourceFromSpans(ids, vectors, dim);
    state.ResumeTiming();
    auto loaded = (*index)->BulkLoad(*source, {.threads = threads});
    state.PauseTiming();
    if (!loaded.ok()) return state.SkipWithError(loaded.status().ToString().c_str());
    state.counters["segments"] = static_cast<double>(loaded->segments);
    index->reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  fs::remove_all(root);
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_BulkLoad)
    ->ArgNames({"rows", "dim", "threads", "keep"})
    ->Args({1000000, 128, 2, 0})
    ->Args({1000000, 128, 2, 1})
    ->Args({1000000, 128, 1, 0})
    ->Args({60000, 784, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace
}  // namespace turboquant
