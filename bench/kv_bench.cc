// One decode step of attention (1 query token, 32 query heads over 8 KV heads,
// head_dim 128, 32k cached tokens) over the TurboQuant-compressed KV cache,
// beside exact float32 attention over the uncompressed cache on the same
// machine (the same Highway dispatch, 4 query heads per pass over each KV
// head). Both single-threaded.
//
//   build-kv/bench/kv_bench --benchmark_filter=DecodeStep
// The ratio fp32 time / compressed time is the speed-up.
#include <algorithm>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "src/kv/synthetic_kv.h"
#include "turboquant/kv_cache.h"

namespace turboquant {
namespace {

constexpr int kTokens = 32768;
constexpr int kKvHeads = 8;
constexpr int kQueryHeads = 32;
constexpr int kHeadDim = 128;

const internal::SyntheticKv& Data() {
  static const internal::SyntheticKv* data = [] {
    internal::SyntheticKvOptions options;
    options.tokens = kTokens;
    options.kv_heads = kKvHeads;
    options.query_heads = kQueryHeads;
    options.head_dim = kHeadDim;
    options.query_tokens = 1;
    return new internal::SyntheticKv(internal::MakeSyntheticKv(options));
  }();
  return *data;
}

KvCacheConfig Config(double bits) {
  KvCacheConfig config;
  config.head_dim = kHeadDim;
  config.num_kv_heads = kKvHeads;
  config.num_query_heads = kQueryHeads;
  config.key_bits = bits;
  config.value_bits = bits;
  return config;
}

void BM_DecodeStep_Compressed(benchmark::State& state) {
  const double bits = state.range(0) / 10.0;
  const auto& data = Data();
  auto cache = KvCache::Create(Config(bits));
  if (!cache.ok() || !(*cache)->Append(data.keys, data.values).ok()) {
    state.SkipWithError("cache setup failed");
    return;
  }
  std::vector<float> out(data.queries.size());
  for (auto _ : state) {
    if (!(*cache)->Attention(data.queries, absl::MakeSpan(out)).ok()) state.SkipWithError("attention");
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bits"] = bits;
  state.counters["bytes_per_token"] = static_cast<double>((*cache)->bytes_per_token());
  state.counters["fp16_bytes_per_token"] = static_cast<double>(Config(bits).fp16_bytes_per_token());
  state.counters["cache_MB"] = (*cache)->bytes_used() / 1e6;
}
BENCHMARK(BM_DecodeStep_Compressed)->Arg(25)->Arg(35)->Arg(40)->Unit(benchmark::kMillisecond);

// The fp32 cache stored head-major ([kv_head][token][dim], as an inference
// engine keeps it), so each KV head's keys and values are contiguous.
void BM_DecodeStep_Fp32Reference(benchmark::State& state) {
  const auto& data = Data();
  std::vector<std::vector<float>> keys(kKvHeads), values(kKvHeads);
  for (int h = 0; h < kKvHeads; ++h) {
    keys[h].resize(static_cast<size_t>(kTokens) * kHeadDim);
    values[h].resize(keys[h].size());
    for (int t = 0; t < kTokens; ++t) {
      const size_t from = (static_cast<size_t>(t) * kKvHeads + h) * kHeadDim;
      std::copy(data.keys.begin() + from, data.keys.begin() + from + kHeadDim,
                keys[h].begin() + static_cast<size_t>(t) * kHeadDim);
      std::copy(data.values.begin() + from, data.values.begin() + from + kHeadDim,
                values[h].begin() + static_cast<size_t>(t) * kHeadDim);
    }
  }
  KvCacheConfig head_config = Config(4);
  head_config.num_kv_heads = 1;
  head_config.num_query_heads = kQueryHeads / kKvHeads;
  const size_t group = static_cast<size_t>(head_config.num_query_heads) * kHeadDim;
  std::vector<float> out(data.queries.size());
  for (auto _ : state) {
    for (int h = 0; h < kKvHeads; ++h) {
      if (!ExactAttention(head_config, keys[h], values[h],
                          absl::MakeConstSpan(data.queries).subspan(h * group, group),
                          absl::MakeSpan(out).subspan(h * group, group))
               .ok()) {
        state.SkipWithError("attention");
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["cache_MB"] = 2.0 * data.keys.size() * sizeof(float) / 1e6;
}
BENCHMARK(BM_DecodeStep_Fp32Reference)->Unit(benchmark::kMillisecond);

// The same exact attention on the token-major layout of KvCache::Append.
void BM_DecodeStep_Fp32TokenMajor(benchmark::State& state) {
  const auto& data = Data();
  const KvCacheConfig config = Config(4);
  std::vector<float> out(data.queries.size());
  for (auto _ : state) {
    if (!ExactAttention(config, data.keys, data.values, data.queries, absl::MakeSpan(out)).ok()) {
      state.SkipWithError("attention");
    }
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_DecodeStep_Fp32TokenMajor)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace turboquant
