// tqindex kv-bench: synthetic fidelity and decode-step speed of the
// TurboQuant KV cache (include/turboquant/kv_cache.h).
//
//   tqindex kv-bench --head-dim 128 --kv-heads 8 --query-heads 32 --tokens 32768 --bits 3.5 [--json]
//
// Measures, on synthetic LLM-like keys (heavy outlier channels) and values:
//   attention_cosine   mean cosine of the cache's attention outputs vs exact
//                      float32 attention, one decode query per query head;
//   needle_top1_rate   needle test on one KV head of --tokens tokens (a planted
//                      key 2 logits above the best other, --needle-trials trials);
//   bytes_per_token    stored bytes per compressed token, all KV heads, K + V;
//   decode_ms          median time of one decode step over the compressed cache;
//   fp32_decode_ms     the same step with exact float32 attention over a
//                      head-major uncompressed cache (both single-threaded).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "src/kv/synthetic_kv.h"
#include "tools/flags.h"
#include "turboquant/kv_cache.h"

namespace tqindex {
namespace {

double MedianMs(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

template <typename F>
double TimeMs(int repeats, F&& f) {
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return MedianMs(samples);
}

absl::Status Run(const std::vector<std::string>& args, bool* help) {
  FlagSet flags("kv-bench");
  flags.AddInt("head-dim", 128, "D", "channels per head (a multiple of 64, 64..512)");
  flags.AddInt("kv-heads", 8, "N", "key/value heads");
  flags.AddInt("query-heads", 32, "N", "query heads (a multiple of --kv-heads)");
  flags.AddInt("tokens", 32768, "N", "cached tokens");
  flags.AddDouble("bits", 3.5, "B", "bits per channel for keys and values: 2, 2.5, 3, 3.5 or 4");
  flags.AddInt("window", 128, "N", "newest tokens kept uncompressed");
  flags.AddInt("needle-trials", 200, "N", "needle-test trials (0 skips the test)");
  flags.AddInt("repeats", 7, "N", "timed decode steps (the median is reported)");
  flags.AddUint64("seed", 1, "S", "seed of the synthetic data");
  flags.AddBool("json", "print one JSON object instead of text");
  if (absl::Status s = flags.Parse(args); !s.ok()) return s;
  if (flags.help_requested()) {
    *help = true;
    std::printf("usage: tqindex kv-bench %s\n%s", flags.UsageLine().c_str(), flags.FlagsHelp().c_str());
    return absl::OkStatus();
  }
  auto dim = flags.GetIntInRange("head-dim", 64, 512);
  auto kv_heads = flags.GetIntInRange("kv-heads", 1, 1024);
  auto query_heads = flags.GetIntInRange("query-heads", 1, 8192);
  auto tokens = flags.GetIntInRange("tokens", 1, 1 << 24);
  auto bits = flags.GetDouble("bits");
  auto window = flags.GetIntInRange("window", 0, 1 << 24);
  auto trials = flags.GetIntInRange("needle-trials", 0, 100000);
  auto repeats = flags.GetIntInRange("repeats", 1, 1000);
  auto seed = flags.GetUint64("seed");
  for (const absl::Status& s : {dim.status(), kv_heads.status(), query_heads.status(), tokens.status(),
                                bits.status(), window.status(), trials.status(), repeats.status(),
                                seed.status()}) {
    if (!s.ok()) return s;
  }
  turboquant::KvCacheConfig config;
  config.head_dim = static_cast<int>(*dim);
  config.num_kv_heads = static_cast<int>(*kv_heads);
  config.num_query_heads = static_cast<int>(*query_heads);
  config.key_bits = *bits;
  config.value_bits = *bits;
  config.residual_window = static_cast<int>(*window);
  if (absl::Status s = config.Validate(); !s.ok()) return s;

  turboquant::internal::SyntheticKvOptions options;
  options.tokens = static_cast<int>(*tokens);
  options.kv_heads = config.num_kv_heads;
  options.query_heads = config.num_query_heads;
  options.head_dim = config.head_dim;
  options.seed = *seed;
  const turboquant::internal::SyntheticKv kv = turboquant::internal::MakeSyntheticKv(options);

  auto cache = turboquant::KvCache::Create(config);
  if (!cache.ok()) return cache.status();
  if (absl::Status s = (*cache)->Append(kv.keys, kv.values); !s.ok()) return s;
  std::vector<float> got(kv.queries.size()), want(kv.queries.size());
  if (absl::Status s = (*cache)->Attention(kv.queries, absl::MakeSpan(got)); !s.ok()) return s;
  if (absl::Status s = turboquant::ExactAttention(config, kv.keys, kv.values, kv.queries, absl::MakeSpan(want));
      !s.ok()) {
    return s;
  }
  double cosine = 0;
  const size_t rows = got.size() / config.head_dim;
  for (size_t r = 0; r < rows; ++r) {
    double dot = 0, a = 0, b = 0;
    for (int i = 0; i < config.head_dim; ++i) {
      const double x = got[r * config.head_dim + i], y = want[r * config.head_dim + i];
      dot += x * y, a += x * x, b += y * y;
    }
    cosine += dot / std::sqrt(a * b) / rows;
  }

  double needle = -1;
  int valid = 0;
  if (*trials > 0) {
    needle = turboquant::internal::NeedleTopRate(*bits, 2.0, static_cast<int>(*tokens), static_cast<int>(*trials),
                                                 config.head_dim, *seed + 7, &valid);
  }

  const double decode_ms = TimeMs(static_cast<int>(*repeats), [&] {
    (void)(*cache)->Attention(kv.queries, absl::MakeSpan(got));
  });
  // Exact float32 attention over a head-major copy of the cache.
  const size_t per_head = static_cast<size_t>(*tokens) * config.head_dim;
  std::vector<float> keys(per_head * config.num_kv_heads), values(keys.size());
  for (int64_t t = 0; t < *tokens; ++t) {
    for (int h = 0; h < config.num_kv_heads; ++h) {
      const size_t from = (static_cast<size_t>(t) * config.num_kv_heads + h) * config.head_dim;
      const size_t to = h * per_head + static_cast<size_t>(t) * config.head_dim;
      std::copy(kv.keys.begin() + from, kv.keys.begin() + from + config.head_dim, keys.begin() + to);
      std::copy(kv.values.begin() + from, kv.values.begin() + from + config.head_dim, values.begin() + to);
    }
  }
  turboquant::KvCacheConfig head_config = config;
  head_config.num_kv_heads = 1;
  head_config.num_query_heads = config.num_query_heads / config.num_kv_heads;
  const size_t group = static_cast<size_t>(head_config.num_query_heads) * config.head_dim;
  const double fp32_ms = TimeMs(static_cast<int>(*repeats), [&] {
    for (int h = 0; h < config.num_kv_heads; ++h) {
      (void)turboquant::ExactAttention(
          head_config, absl::MakeConstSpan(keys).subspan(h * per_head, per_head),
          absl::MakeConstSpan(values).subspan(h * per_head, per_head),
          absl::MakeConstSpan(kv.queries).subspan(h * group, group), absl::MakeSpan(want).subspan(h * group, group));
    }
  });

  const size_t bytes = (*cache)->bytes_per_token();
  const size_t fp16 = config.fp16_bytes_per_token();
  if (flags.GetBool("json")) {
    std::printf("{\"bits\": %g, \"attention_cosine\": %.6f, \"needle_top1_rate\": %.4f, "
                "\"bytes_per_token\": %zu, \"fp16_bytes_per_token\": %zu, \"decode_ms\": %.3f, "
                "\"fp32_decode_ms\": %.3f}\n",
                *bits, cosine, needle, bytes, fp16, decode_ms, fp32_ms);
  } else {
    std::printf("kv-bench: head_dim %d, %d KV heads, %d query heads, %lld tokens, %g bits\n", config.head_dim,
                config.num_kv_heads, config.num_query_heads, static_cast<long long>(*tokens), *bits);
    std::printf("  attention cosine vs fp32:  %.5f\n", cosine);
    if (needle >= 0) std::printf("  needle top-1 rate:         %.4f (%d valid trials, margin 2 logits)\n", needle, valid);
    std::printf("  bytes per token (K+V):     %zu (fp16 %zu, %.2fx smaller)\n", bytes, fp16, double(fp16) / bytes);
    std::printf("  decode step:               %.3f ms (fp32 exact %.3f ms, %.2fx faster)\n", decode_ms, fp32_ms,
                fp32_ms / decode_ms);
  }
  return absl::OkStatus();
}

}  // namespace

// Entry point for the dispatcher's command table: args are everything after
// "kv-bench". Returns the process exit code (0 ok, 2 usage/bad input).
int KvBenchCommand(const std::vector<std::string>& args) {
  bool help = false;
  const absl::Status s = Run(args, &help);
  if (!s.ok()) {
    std::fprintf(stderr, "tqindex kv-bench: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  return 0;
}

}  // namespace tqindex
