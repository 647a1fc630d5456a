// Durable collections: synced ingest, open time, query speed of an opened
// collection against the in-memory index on the same data, bytes on disk.
//   build/bench/collection_bench
// Uses TQ_BENCH_DIR (default /tmp) for the collections it creates.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/util/random.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

namespace fs = std::filesystem;
constexpr int kDim = 128;

std::string BenchDir(const std::string& name) {
  const char* root = std::getenv("TQ_BENCH_DIR");
  return (fs::path(root ? root : "/tmp") / ("tq_collection_bench_" + name)).string();
}

std::vector<float> RandomVectors(size_t n, uint64_t seed) {
  internal::SeededRandom random(seed);
  std::vector<float> out(n * kDim);
  for (float& v : out) v = static_cast<float>(random.Normal());
  return out;
}

std::vector<int64_t> Range(int64_t first, int64_t n) {
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = first + i;
  return ids;
}

// One synced write per 1,000 vectors, on one core (encoding included).
void BM_IngestSyncedBatchesOf1000(benchmark::State& state) {
  const std::vector<float> data = RandomVectors(100000, 1);
  int64_t added = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(BenchDir("ingest"));
    auto index = *TurboQuantIndex::Create(BenchDir("ingest"), {.dim = kDim});
    state.ResumeTiming();
    for (int64_t first = 0; first < 100000; first += 1000) {
      if (!index->Add(Range(first, 1000), {data.data() + first * kDim, 1000 * kDim}).ok()) {
        state.SkipWithError("Add failed");
      }
    }
    added += 100000;
  }
  state.SetItemsProcessed(added);
}
BENCHMARK(BM_IngestSyncedBatchesOf1000)->Unit(benchmark::kMillisecond)->Iterations(3);

// A sealed 1M-vector collection, built once per process.
const std::string& MillionCollection() {
  static const std::string dir = [] {
    const std::string path = BenchDir("million");
    fs::remove_all(path);
    auto index = *TurboQuantIndex::Create(path, {.dim = kDim});
    for (int64_t first = 0; first < 1000000; first += 100000) {
      const std::vector<float> data = RandomVectors(100000, 100 + first);
      (void)index->Add(Range(first, 100000), data);
    }
    (void)index->Flush();
    return path;
  }();
  return dir;
}

void BM_OpenMillionVectorCollection(benchmark::State& state) {
  const std::string& dir = MillionCollection();
  for (auto _ : state) {
    auto index = TurboQuantIndex::Open(dir);
    if (!index.ok()) state.SkipWithError("Open failed");
    benchmark::DoNotOptimize(index);
  }
  auto index = *TurboQuantIndex::Open(dir);
  const IndexStats stats = index->Stats();
  state.counters["bytes_on_disk_per_vector"] = double(stats.bytes_on_disk) / stats.count;
  state.counters["code_plus_id_bytes"] = double(stats.bytes_per_vector + 8);
}
BENCHMARK(BM_OpenMillionVectorCollection)->Unit(benchmark::kMillisecond);

// 100 queries, one thread: the opened (mmap'd) collection, then an in-memory
// index holding the same vectors.
void BM_Search1M(benchmark::State& state) {
  const bool opened = state.range(0) == 1;
  const std::vector<float> queries = RandomVectors(100, 7);
  std::unique_ptr<TurboQuantIndex> index;
  if (opened) {
    index = *TurboQuantIndex::Open(MillionCollection());
  } else {
    index = *TurboQuantIndex::Create(IndexOptions{.dim = kDim});
    for (int64_t first = 0; first < 1000000; first += 100000) {
      (void)index->Add(Range(first, 100000), RandomVectors(100000, 100 + first));
    }
  }
  for (auto _ : state) {
    auto results = index->Search(queries, {.k = 10, .threads = 1});
    benchmark::DoNotOptimize(results);
  }
  state.SetItemsProcessed(state.iterations() * 100);
  state.SetLabel(opened ? "opened collection" : "in-memory index");
}
BENCHMARK(BM_Search1M)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace turboquant
