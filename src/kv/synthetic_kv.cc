#include "src/kv/synthetic_kv.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "turboquant/kv_cache.h"

#include "src/util/random.h"

namespace turboquant::internal {

SyntheticKv MakeSyntheticKv(const SyntheticKvOptions& o) {
  SeededRandom random(o.seed);
  const int d = o.head_dim;
  const size_t row = static_cast<size_t>(o.kv_heads) * d;
  std::vector<float> key_mean(row), key_std(row), value_mean(row), value_std(row), query_std(row);
  for (int h = 0; h < o.kv_heads; ++h) {
    for (int c = 0; c < d; ++c) {
      const size_t i = static_cast<size_t>(h) * d + c;
      key_mean[i] = static_cast<float>(0.2 * random.Normal());
      key_std[i] = static_cast<float>(std::exp(0.3 * random.Normal()));
      query_std[i] = 1.0f;
      value_mean[i] = o.value_means ? static_cast<float>(0.5 * random.Normal()) : 0.0f;
      value_std[i] = static_cast<float>(std::exp(0.3 * random.Normal()));
    }
    for (int k = 0; k < o.outlier_channels; ++k) {
      const size_t i = static_cast<size_t>(h) * d + random.Below(d);
      key_mean[i] = (random.Next() >> 63 ? -1.0f : 1.0f) * o.outlier_scale;
      key_std[i] = o.outlier_scale;
      query_std[i] = 2.0f;
    }
  }
  SyntheticKv kv;
  kv.keys.resize(static_cast<size_t>(o.tokens) * row);
  kv.values.resize(kv.keys.size());
  for (int t = 0; t < o.tokens; ++t) {
    for (size_t i = 0; i < row; ++i) {
      kv.keys[t * row + i] = static_cast<float>(key_mean[i] + key_std[i] * random.Normal());
      kv.values[t * row + i] = static_cast<float>(value_mean[i] + value_std[i] * random.Normal());
    }
  }
  const int per_kv = o.query_heads / o.kv_heads;
  kv.queries.resize(static_cast<size_t>(o.query_tokens) * o.query_heads * d);
  for (int qt = 0; qt < o.query_tokens; ++qt) {
    for (int h = 0; h < o.query_heads; ++h) {
      const int kvh = h / per_kv;
      for (int c = 0; c < d; ++c) {
        kv.queries[(static_cast<size_t>(qt) * o.query_heads + h) * d + c] = static_cast<float>(
            o.query_scale * query_std[static_cast<size_t>(kvh) * d + c] * random.Normal());
      }
    }
  }
  return kv;
}

double NeedleTopRate(double bits, double margin, int tokens, int trials, int head_dim,
                     uint64_t seed, int* valid_trials) {
  SyntheticKvOptions options;
  options.tokens = tokens;
  options.kv_heads = 1;
  options.query_heads = 1;
  options.head_dim = head_dim;
  options.query_tokens = trials;
  options.seed = seed;
  SyntheticKv kv = MakeSyntheticKv(options);
  const int d = head_dim;
  SeededRandom random(seed + 1);
  std::vector<int> position(trials);
  std::vector<char> used(tokens, 0);
  for (int t = 0; t < trials; ++t) {
    int p;
    do p = static_cast<int>(random.Below(tokens)); while (used[p]);
    used[p] = 1;
    position[t] = p;
  }
  auto dot = [&](const float* a, const float* b) {
    double s = 0;
    for (int i = 0; i < d; ++i) s += double(a[i]) * b[i];
    return s;
  };
  for (int t = 0; t < trials; ++t) {
    const float* q = kv.queries.data() + static_cast<size_t>(t) * d;
    double best = -1e300;
    for (int i = 0; i < tokens; ++i) {
      if (!used[i]) best = std::max(best, dot(q, kv.keys.data() + static_cast<size_t>(i) * d));
    }
    float* k = kv.keys.data() + static_cast<size_t>(position[t]) * d;
    const double target = best + margin * std::sqrt(double(d));  // logits = <q, k> / sqrt(d)
    const double shift = (target - dot(q, k)) / dot(q, q);
    for (int i = 0; i < d; ++i) k[i] += static_cast<float>(shift * q[i]);
  }
  KvCacheConfig config;
  config.head_dim = d;
  config.num_kv_heads = 1;
  config.num_query_heads = 1;
  config.key_bits = bits;
  config.value_bits = bits;
  auto cache = KvCache::Create(config);
  if (!cache.ok() || !(*cache)->Append(kv.keys, kv.values).ok()) return -1;
  std::vector<float> scores(static_cast<size_t>(trials) * tokens);
  if (!(*cache)->KeyScores(kv.queries, absl::MakeSpan(scores)).ok()) return -1;
  int valid = 0, top = 0;
  for (int t = 0; t < trials; ++t) {
    const float* q = kv.queries.data() + static_cast<size_t>(t) * d;
    int true_best = 0;
    double true_best_score = -1e300;
    for (int i = 0; i < tokens; ++i) {
      const double s = dot(q, kv.keys.data() + static_cast<size_t>(i) * d);
      if (s > true_best_score) true_best_score = s, true_best = i;
    }
    if (true_best != position[t]) continue;  // another trial's needle won
    ++valid;
    const float* row = scores.data() + static_cast<size_t>(t) * tokens;
    top += static_cast<int>(std::max_element(row, row + tokens) - row) == position[t];
  }
  *valid_trials = valid;
  return valid > 0 ? double(top) / valid : 0.0;
}

}  // namespace turboquant::internal
