// What one search costs beyond the scan (README.md, "Search latency"):
//   build/bench/search_bench
// Single queries on one thread, in-memory indexes, 4 bits, no re-rank:
//   SingleQuerySiftsmall  siftsmall (10k x 128, l2) from TQ_DATA_DIR (default ../shared/data)
//   SingleQuery1M         1M x 128 Gaussian (ip), with no filter, a 1% random allow list
//                         (AllowOnly of 10,000 ids) or a 1% exclude list
//   SnapshotAcquire       taking the current snapshot: the holder searches use now, against
//                         the mutex + shared_ptr copy they used before
#include <cstdlib>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/index/snapshot.h"
#include "src/util/random.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace turboquant {
namespace {

constexpr int kDim = 128;
constexpr int64_t kMillion = 1000000;
constexpr int kQueries = 100;

std::vector<float> GaussianVectors(size_t n, uint64_t seed) {
  internal::SeededRandom random(seed);
  std::vector<float> out(n * kDim);
  for (float& v : out) v = static_cast<float>(random.Normal());
  return out;
}

std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> ids(n);
  std::iota(ids.begin(), ids.end(), int64_t{0});
  return ids;
}

struct Loaded {
  std::unique_ptr<TurboQuantIndex> index;
  std::vector<float> queries;
};

// Searches one query per call, cycling through `queries`.
void SearchOneAtATime(benchmark::State& state, const TurboQuantIndex& index,
                      const std::vector<float>& queries, const SearchParams& params) {
  const size_t count = queries.size() / kDim;
  size_t q = 0;
  for (auto _ : state) {
    auto results = index.Search({&queries[q * kDim], kDim}, params);
    if (!results.ok()) state.SkipWithError("Search failed");
    benchmark::DoNotOptimize(results);
    q = (q + 1) % count;
  }
  state.SetItemsProcessed(state.iterations());
}

const Loaded* Siftsmall() {
  static const Loaded* loaded = []() -> const Loaded* {
    const char* root = std::getenv("TQ_DATA_DIR");
    const std::string dir = std::string(root ? root : "../shared/data") + "/siftsmall/";
    auto base = ReadVectors(dir + "siftsmall_base.fvecs");
    auto queries = ReadVectors(dir + "siftsmall_query.fvecs");
    if (!base.ok() || !queries.ok()) return nullptr;
    auto index = TurboQuantIndex::Create(IndexOptions{.dim = kDim, .metric = Metric::kL2});
    if (!index.ok() || !(*index)->Add(Iota(base->rows), base->data).ok()) return nullptr;
    return new Loaded{std::move(*index), std::move(queries->data)};
  }();
  return loaded;
}

void BM_SingleQuerySiftsmall(benchmark::State& state) {
  const Loaded* data = Siftsmall();
  if (data == nullptr) {
    state.SkipWithError("siftsmall not found: set TQ_DATA_DIR to shared/data");
    return;
  }
  SearchOneAtATime(state, *data->index, data->queries, {.k = 10, .threads = 1});
}
BENCHMARK(BM_SingleQuerySiftsmall)->Unit(benchmark::kMicrosecond);

const Loaded& Million() {
  static const Loaded* loaded = [] {
    auto index = *TurboQuantIndex::Create(IndexOptions{.dim = kDim});
    const std::vector<int64_t> ids = Iota(kMillion);
    for (int64_t first = 0; first < kMillion; first += 100000) {
      (void)index->Add({&ids[first], 100000}, GaussianVectors(100000, 100 + first));
    }
    return new Loaded{std::move(index), GaussianVectors(kQueries, 7)};
  }();
  return *loaded;
}

// 10,000 distinct ids drawn uniformly from the million.
std::vector<int64_t> OnePercentOfIds() {
  std::vector<int64_t> ids = Iota(kMillion);
  internal::SeededRandom random(11);
  for (int64_t i = 0; i < kMillion / 100; ++i) {
    std::swap(ids[i], ids[i + random.Below(kMillion - i)]);
  }
  ids.resize(kMillion / 100);
  return ids;
}

// Arg 0: no filter; 1: AllowOnly(1% of ids); 2: Exclude(1% of ids). The
// filter is built once, as a service would for a tenant.
void BM_SingleQuery1M(benchmark::State& state) {
  const Loaded& data = Million();
  SearchParams params{.k = 10, .threads = 1};
  if (state.range(0) == 1) params.filter = Filter::AllowOnly(OnePercentOfIds());
  if (state.range(0) == 2) params.filter = Filter::Exclude(OnePercentOfIds());
  SearchOneAtATime(state, *data.index, data.queries, params);
  state.SetLabel(state.range(0) == 0 ? "no filter" : state.range(0) == 1 ? "allow 1%" : "exclude 1%");
}
BENCHMARK(BM_SingleQuery1M)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// What Impl::Current() did before the holder: a mutex around a shared_ptr copy.
class MutexHolder {
 public:
  std::shared_ptr<const internal::Snapshot> Load() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return snapshot_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const internal::Snapshot> snapshot_ = std::make_shared<internal::Snapshot>();
};

// Arg 0: the mutex + shared_ptr copy; 1: SnapshotHolder::Load. Run on 1 and
// 2 threads, so that the 2-thread rows show contention on the shared lines.
void BM_SnapshotAcquire(benchmark::State& state) {
  static MutexHolder mutex_holder;
  static internal::SnapshotHolder holder(std::make_shared<internal::Snapshot>());
  for (auto _ : state) {
    if (state.range(0) == 0) {
      auto snapshot = mutex_holder.Load();
      benchmark::DoNotOptimize(snapshot);
    } else {
      auto snapshot = holder.Load();
      benchmark::DoNotOptimize(snapshot);
    }
  }
  state.SetLabel(state.range(0) == 0 ? "mutex + shared_ptr" : "SnapshotHolder");
}
BENCHMARK(BM_SnapshotAcquire)->Arg(0)->Arg(1)->Threads(1)->Threads(2);

}  // namespace
}  // namespace turboquant
