// KV-cache codec: fidelity of attention over compressed keys/values against
// exact float32 attention, unbiased key scores, the needle test, memory per
// token, SIMD vs scalar kernels, and bad input.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "src/kv/synthetic_kv.h"
#include "src/util/random.h"
#include "tests/test_util.h"
#include "turboquant/io.h"
#include "turboquant/kv_cache.h"

namespace turboquant {
namespace {

using internal::MakeSyntheticKv;
using internal::SyntheticKv;
using internal::SyntheticKvOptions;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

KvCacheConfig Config(int dim, int kv_heads, int query_heads, double bits, int window = 128) {
  KvCacheConfig config;
  config.head_dim = dim;
  config.num_kv_heads = kv_heads;
  config.num_query_heads = query_heads;
  config.key_bits = bits;
  config.value_bits = bits;
  config.residual_window = window;
  return config;
}

std::unique_ptr<KvCache> MakeCache(const KvCacheConfig& config) {
  auto cache = KvCache::Create(config);
  EXPECT_TRUE(cache.ok()) << cache.status();
  return std::move(*cache);
}

struct CosineStats {
  double mean = 0, min = 1;
};

// Cosine similarity of every (query token, head) output vector.
CosineStats Cosines(const std::vector<float>& a, const std::vector<float>& b, int dim) {
  CosineStats stats;
  const size_t n = a.size() / dim;
  for (size_t r = 0; r < n; ++r) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < dim; ++i) {
      dot += double(a[r * dim + i]) * b[r * dim + i];
      na += double(a[r * dim + i]) * a[r * dim + i];
      nb += double(b[r * dim + i]) * b[r * dim + i];
    }
    const double c = dot / std::sqrt(na * nb);
    stats.mean += c / n;
    stats.min = std::min(stats.min, c);
  }
  return stats;
}

// Attention of the compressed cache vs exact attention on the same inputs.
CosineStats AttentionFidelity(const KvCacheConfig& config, const std::vector<float>& keys,
                              const std::vector<float>& values, const std::vector<float>& queries) {
  auto cache = MakeCache(config);
  EXPECT_TRUE(cache->Append(keys, values).ok());
  std::vector<float> got(queries.size()), want(queries.size());
  EXPECT_TRUE(cache->Attention(queries, absl::MakeSpan(got)).ok());
  EXPECT_TRUE(ExactAttention(config, keys, values, queries, absl::MakeSpan(want)).ok());
  return Cosines(got, want, config.head_dim);
}

// ---------------------------------------------------------------- fidelity

struct FidelityCase {
  double bits;
  double min_mean_cosine;
};

// Averaged over three synthetic caches (seeds) and 8 decode queries x 8
// query heads each: 192 output vectors per bit width.
TEST(KvCacheFidelity, SyntheticOutlierKeys) {
  for (const FidelityCase& c : {FidelityCase{2.5, 0.98}, FidelityCase{3.5, 0.995}, FidelityCase{4, 0.995}}) {
    CosineStats total;
    const uint64_t seeds[] = {7, 8, 9};
    for (uint64_t seed : seeds) {
      SyntheticKvOptions options;
      options.tokens = 8192;
      options.kv_heads = 2;
      options.query_heads = 8;
      options.query_tokens = 8;
      options.seed = seed;
      const SyntheticKv kv = MakeSyntheticKv(options);
      const CosineStats stats = AttentionFidelity(Config(128, 2, 8, c.bits), kv.keys, kv.values, kv.queries);
      total.mean += stats.mean / 3;
      total.min = std::min(total.min, stats.min);
    }
    std::printf("synthetic LLM-like KV, 3 x 8192 tokens, %.1f bits: attention cosine mean %.5f min %.5f\n",
                c.bits, total.mean, total.min);
    EXPECT_GE(total.mean, c.min_mean_cosine) << c.bits << " bits";
  }
}

// Zero-mean isotropic values share nothing between tokens, so nothing hides
// the per-token errors: the value error alone gives cosine ~ sqrt(1 - D) (D =
// the codec's relative MSE, ~0.986 at 3.5 bits), and this synthetic attention
// is peaky (logit spread ~2.3), so key-score noise moves weight between the
// top tokens too. The worst case we know of; measured and guarded against
// regressions, not held to the targets.
TEST(KvCacheFidelity, SyntheticIsotropicValuesReport) {
  SyntheticKvOptions options;
  options.tokens = kSanitized ? 1024 : 4096;
  options.value_means = false;
  options.query_tokens = 2;
  options.seed = 8;
  const SyntheticKv kv = MakeSyntheticKv(options);
  for (double bits : {2.5, 3.5, 4.0}) {
    const CosineStats stats = AttentionFidelity(Config(128, 2, 8, bits), kv.keys, kv.values, kv.queries);
    std::printf("synthetic, isotropic zero-mean values, %.1f bits: attention cosine mean %.5f min %.5f\n",
                bits, stats.mean, stats.min);
    EXPECT_GE(stats.mean, bits < 3 ? 0.80 : bits < 4 ? 0.92 : 0.95) << bits;
  }
}

// Real embeddings as keys and values: each row of a d-dimensional dataset is
// one token, split into d / 128 KV heads; query rows become query tokens.
void RealDataFidelity(const std::string& base_name, const std::string& query_name, int max_tokens,
                      double temperature) {
  const std::string base_path = testing::SharedDataPath(base_name);
  const std::string query_path = testing::SharedDataPath(query_name);
  if (base_path.empty() || query_path.empty()) {
    GTEST_SKIP() << "shared data missing: " << base_name << " / " << query_name
                 << " under ../shared/data";
  }
  auto base = ReadVectors(base_path);
  auto queries = ReadVectors(query_path);
  ASSERT_TRUE(base.ok()) << base.status();
  ASSERT_TRUE(queries.ok()) << queries.status();
  const int dim = base->dim;
  ASSERT_EQ(dim % 128, 0);
  const int heads = dim / 128;
  const int tokens = static_cast<int>(std::min<int64_t>(base->rows, max_tokens));
  std::vector<float> keys(base->data.begin(), base->data.begin() + static_cast<size_t>(tokens) * dim);
  // Values: the same rows in another order, so a token's value is not its key.
  std::vector<float> values(keys.size());
  for (int t = 0; t < tokens; ++t) {
    const int source = static_cast<int>((static_cast<int64_t>(t) * 7919) % tokens);
    std::copy(keys.begin() + static_cast<size_t>(source) * dim,
              keys.begin() + static_cast<size_t>(source + 1) * dim, values.begin() + static_cast<size_t>(t) * dim);
  }
  const int query_tokens = static_cast<int>(std::min<int64_t>(queries->rows, kSanitized ? 4 : 16));
  std::vector<float> q(queries->data.begin(), queries->data.begin() + static_cast<size_t>(query_tokens) * dim);
  // Softmax temperature: logits = temperature * <q, k> / (mean|q| mean|k|),
  // i.e. `temperature` times a cosine, so attention is neither uniform nor one-hot.
  double mean_key = 0, mean_query = 0;
  for (int t = 0; t < tokens; ++t) {
    double s = 0;
    for (int i = 0; i < 128; ++i) s += double(keys[t * dim + i]) * keys[t * dim + i];
    mean_key += std::sqrt(s) / tokens;
  }
  for (int t = 0; t < query_tokens; ++t) {
    double s = 0;
    for (int i = 0; i < 128; ++i) s += double(q[t * dim + i]) * q[t * dim + i];
    mean_query += std::sqrt(s) / query_tokens;
  }
  for (double bits : {2.5, 3.5, 4.0}) {
    KvCacheConfig config = Config(128, heads, heads, bits, 64);
    config.softmax_scale = temperature / (mean_key * mean_query);
    const CosineStats stats = AttentionFidelity(config, keys, values, q);
    std::printf("%s: %d tokens x %d heads, %.1f bits: attention cosine mean %.5f min %.5f\n",
                base_name.c_str(), tokens, heads, bits, stats.mean, stats.min);
    EXPECT_GE(stats.mean, bits < 3 ? 0.98 : 0.995) << base_name << " " << bits << " bits";
  }
}

TEST(KvCacheFidelity, RealSiftEmbeddings) {
  RealDataFidelity("siftsmall/siftsmall_base.fvecs", "siftsmall/siftsmall_query.fvecs",
                   kSanitized ? 2000 : 10000, 20.0);
}

TEST(KvCacheFidelity, RealCohereEmbeddings) {
  RealDataFidelity("cohere-768/cohere1k_base.fvecs", "cohere-768/cohere1k_query.fvecs", 900, 20.0);
}

TEST(KvCacheFidelity, RealBgeM3Embeddings) {
  RealDataFidelity("bge-m3-1024/bge_m3_paragraph_base.fvecs", "bge-m3-1024/bge_m3_paragraph_query.fvecs",
                   450, 20.0);
}

// ------------------------------------------------------ unbiased key scores

TEST(KvCacheKeys, ScoreEstimatesAreUnbiased) {
  SyntheticKvOptions options;
  options.tokens = 4;
  options.kv_heads = 1;
  options.query_heads = 1;
  options.seed = 21;
  const SyntheticKv kv = MakeSyntheticKv(options);
  const int trials = kSanitized ? 300 : 2000;
  for (double bits : {2.5, 3.5, 4.0}) {
    std::vector<double> sum(4, 0), sum_sq(4, 0), truth(4, 0);
    for (int t = 0; t < 4; ++t) {
      for (int i = 0; i < 128; ++i) truth[t] += double(kv.queries[i]) * kv.keys[t * 128 + i];
    }
    for (int trial = 0; trial < trials; ++trial) {
      KvCacheConfig config = Config(128, 1, 1, bits, 0);
      config.seed = 1000 + trial;
      auto cache = MakeCache(config);
      ASSERT_TRUE(cache->Append(kv.keys, kv.values).ok());
      std::vector<float> scores(4);
      ASSERT_TRUE(cache->KeyScores(kv.queries, absl::MakeSpan(scores)).ok());
      for (int t = 0; t < 4; ++t) {
        sum[t] += scores[t];
        sum_sq[t] += double(scores[t]) * scores[t];
      }
    }
    for (int t = 0; t < 4; ++t) {
      const double mean = sum[t] / trials;
      const double sd = std::sqrt(std::max(0.0, sum_sq[t] / trials - mean * mean));
      const double standard_error = sd / std::sqrt(double(trials));
      std::printf("%.1f bits key %d: true %.3f mean estimate %.3f (sd %.3f, se %.3f)\n", bits, t,
                  truth[t], mean, sd, standard_error);
      EXPECT_LE(std::abs(mean - truth[t]), 4.5 * standard_error + 1e-3 * std::abs(truth[t]))
          << bits << " bits, key " << t;
    }
  }
}

// ------------------------------------------------------------------ needle

// Among 32k cached tokens, one planted key per trial query has the largest
// true score, `margin` softmax logits above the best other token (see
// internal::NeedleTopRate). It must stay the top-scored token.
double NeedleTopRate(double margin, int tokens, int trials, int* valid) {
  const double rate = internal::NeedleTopRate(3.5, margin, tokens, trials, 128, 33, valid);
  std::printf("needle, margin %.1f logits: %.1f%% of %d valid trials top-scored among %d tokens at 3.5 bits\n",
              margin, 100 * rate, *valid, tokens);
  return rate;
}

TEST(KvCacheKeys, NeedleStaysTopAttended) {
  const int tokens = kSanitized ? 8192 : 32768;
  const int trials = 200;
  int valid = 0;
  // Reported: a one-logit margin is within reach of the key-score noise.
  NeedleTopRate(1.0, tokens, trials, &valid);
  const double rate = NeedleTopRate(2.0, tokens, trials, &valid);
  ASSERT_GE(valid, trials * 9 / 10);
  EXPECT_GE(rate, 0.99);
}

// ------------------------------------------------------------------ memory

TEST(KvCacheMemory, BytesPerTokenAgainstFp16) {
  for (double bits : {2.0, 2.5, 3.0, 3.5, 4.0}) {
    const KvCacheConfig config = Config(128, 8, 32, bits);
    auto cache = MakeCache(config);
    const size_t fp16 = config.fp16_bytes_per_token();
    std::printf("%.1f bits: key %zu + value %zu bytes per token per head; %zu per token (8 heads) vs "
                "fp16 %zu: %.2fx smaller\n",
                bits, cache->key_bytes_per_token_per_head(), cache->value_bytes_per_token_per_head(),
                cache->bytes_per_token(), fp16, double(fp16) / cache->bytes_per_token());
    // Fractional widths: everything stored per token (codes and scalars) fits
    // in bits * d / 8. Integer widths add their 3 (keys) or 2 (values) bytes.
    const double slack = bits == std::floor(bits) ? 3 : 0;
    EXPECT_LE(cache->key_bytes_per_token_per_head(), bits * 128 / 8 + slack);
    EXPECT_LE(cache->value_bytes_per_token_per_head(), bits * 128 / 8 + slack);
    if (bits == 3.5) {
      EXPECT_LE(cache->key_bytes_per_token_per_head(), 256 / 4.5);
      EXPECT_LE(cache->value_bytes_per_token_per_head(), 256 / 4.5);
      EXPECT_LE(cache->bytes_per_token() * 4.5, double(fp16));
    }
  }
}

TEST(KvCacheMemory, BytesUsedCountsCodesAndWindow) {
  const KvCacheConfig config = Config(128, 2, 4, 3.5, 16);
  auto cache = MakeCache(config);
  SyntheticKvOptions options;
  options.tokens = 100;
  options.query_heads = 4;
  const SyntheticKv kv = MakeSyntheticKv(options);
  ASSERT_TRUE(cache->Append(kv.keys, kv.values).ok());
  EXPECT_EQ(cache->num_tokens(), 100);
  EXPECT_EQ(cache->num_compressed_tokens(), 84);
  // 84 tokens -> 6 key blocks of 16; values per token; window in float32.
  const size_t expected = 2 * (6 * 16 * cache->key_bytes_per_token_per_head() +
                               84 * cache->value_bytes_per_token_per_head() + 2 * 128 * sizeof(int) +
                               2 * 128 * sizeof(float)) +
                          16 * 2 * 128 * 2 * sizeof(float);
  EXPECT_EQ(cache->bytes_used(), expected);
}

// ------------------------------------------------- kernels and consistency

TEST(KvCacheKernels, SimdMatchesScalarReference) {
  for (double bits : {2.0, 2.5, 3.0, 3.5, 4.0}) {
    for (int per_kv : {1, 3, 6}) {
      SyntheticKvOptions options;
      options.tokens = 300;  // not a multiple of 16
      options.kv_heads = 2;
      options.query_heads = 2 * per_kv;
      options.query_tokens = 2;
      const SyntheticKv kv = MakeSyntheticKv(options);
      auto cache = MakeCache(Config(128, 2, 2 * per_kv, bits, 20));
      ASSERT_TRUE(cache->Append(kv.keys, kv.values).ok());
      std::vector<float> simd(static_cast<size_t>(2 * 2 * per_kv) * 300), ref(simd.size());
      ASSERT_TRUE(cache->KeyScores(kv.queries, absl::MakeSpan(simd)).ok());
      cache->set_use_reference_kernels_for_testing(true);
      ASSERT_TRUE(cache->KeyScores(kv.queries, absl::MakeSpan(ref)).ok());
      for (size_t i = 0; i < simd.size(); ++i) {
        ASSERT_NEAR(simd[i], ref[i], 1e-4 * (1 + std::abs(ref[i]))) << bits << " " << per_kv << " " << i;
      }
      std::vector<float> out_ref(kv.queries.size()), out_simd(kv.queries.size());
      ASSERT_TRUE(cache->Attention(kv.queries, absl::MakeSpan(out_ref)).ok());
      cache->set_use_reference_kernels_for_testing(false);
      ASSERT_TRUE(cache->Attention(kv.queries, absl::MakeSpan(out_simd)).ok());
      for (size_t i = 0; i < out_ref.size(); ++i) {
        ASSERT_NEAR(out_simd[i], out_ref[i], 1e-4 * (1 + std::abs(out_ref[i]))) << bits << " " << i;
      }
    }
  }
}

// Attention over the cache equals exact attention over its own Decompress():
// the kernels compute exactly what the codes represent.
TEST(KvCacheKernels, AttentionMatchesDecompressedCache) {
  for (double bits : {2.5, 4.0}) {
    SyntheticKvOptions options;
    options.tokens = 500;
    options.query_tokens = 3;
    const SyntheticKv kv = MakeSyntheticKv(options);
    const KvCacheConfig config = Config(128, 2, 8, bits, 32);
    auto cache = MakeCache(config);
    // Several appends, one token at a time at the end (decode steps).
    ASSERT_TRUE(cache->Append(absl::MakeSpan(kv.keys).subspan(0, 400 * 256),
                              absl::MakeSpan(kv.values).subspan(0, 400 * 256)).ok());
    for (int t = 400; t < 500; ++t) {
      ASSERT_TRUE(cache->Append(absl::MakeSpan(kv.keys).subspan(t * 256, 256),
                                absl::MakeSpan(kv.values).subspan(t * 256, 256)).ok());
    }
    EXPECT_EQ(cache->num_tokens(), 500);
    std::vector<float> keys, values;
    ASSERT_TRUE(cache->Decompress(&keys, &values).ok());
    // The window is exact.
    for (size_t i = 468 * 256; i < keys.size(); ++i) {
      ASSERT_EQ(keys[i], kv.keys[i]);
      ASSERT_EQ(values[i], kv.values[i]);
    }
    std::vector<float> got(kv.queries.size()), want(kv.queries.size());
    ASSERT_TRUE(cache->Attention(kv.queries, absl::MakeSpan(got)).ok());
    ASSERT_TRUE(ExactAttention(config, keys, values, kv.queries, absl::MakeSpan(want)).ok());
    const CosineStats stats = Cosines(got, want, 128);
    EXPECT_GE(stats.min, 0.99999) << bits;
  }
}

// ----------------------------------------------------------------- bad input

TEST(KvCacheBadInput, ConfigErrors) {
  auto expect_error = [](KvCacheConfig config, const std::string& needle) {
    auto cache = KvCache::Create(config);
    ASSERT_FALSE(cache.ok());
    EXPECT_NE(std::string(cache.status().message()).find(needle), std::string::npos) << cache.status();
  };
  KvCacheConfig c = Config(128, 8, 32, 3.5);
  c.head_dim = 100;
  expect_error(c, "head_dim");
  c = Config(128, 8, 30, 3.5);
  expect_error(c, "num_query_heads 30 is not a multiple of num_kv_heads 8");
  c = Config(128, 0, 32, 3.5);
  expect_error(c, "num_kv_heads");
  c = Config(128, 8, 32, 3.3);
  expect_error(c, "key_bits");
  c = Config(128, 8, 32, 3.5);
  c.value_bits = 5;
  expect_error(c, "value_bits");
  c = Config(128, 8, 32, 3.5, -1);
  expect_error(c, "residual_window");
}

TEST(KvCacheBadInput, ShapesAndNonFinite) {
  const KvCacheConfig config = Config(128, 2, 4, 3.5, 4);
  auto cache = MakeCache(config);
  std::vector<float> keys(3 * 256, 0.5f), values(3 * 256, 0.25f);
  auto message = [](const Status& s) { return std::string(s.message()); };

  Status s = cache->Append(absl::MakeSpan(keys).subspan(0, 255), absl::MakeSpan(values).subspan(0, 255));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(message(s).find("not a whole number of rows"), std::string::npos) << s;
  s = cache->Append(keys, absl::MakeSpan(values).subspan(0, 512));
  EXPECT_NE(message(s).find("3 key tokens but 2 value tokens"), std::string::npos) << s;
  keys[256 + 128 + 5] = std::nanf("");
  s = cache->Append(keys, values);
  EXPECT_NE(message(s).find("token 1, head 1, channel 5 is not finite"), std::string::npos) << s;
  keys[256 + 128 + 5] = 0.5f;
  values[7] = INFINITY;
  s = cache->Append(keys, values);
  EXPECT_NE(message(s).find("values: token 0, head 0, channel 7"), std::string::npos) << s;
  values[7] = 0.25f;
  EXPECT_EQ(cache->num_tokens(), 0);  // nothing appended by the failed calls

  std::vector<float> queries(4 * 128, 0.1f), out(4 * 128);
  s = cache->Attention(queries, absl::MakeSpan(out));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  ASSERT_TRUE(cache->Append(keys, values).ok());
  ASSERT_TRUE(cache->Append(keys, values).ok());
  EXPECT_TRUE(cache->Attention(queries, absl::MakeSpan(out)).ok());
  s = cache->Attention(absl::MakeSpan(queries).subspan(0, 2 * 128), absl::MakeSpan(out).subspan(0, 2 * 128));
  EXPECT_NE(message(s).find("num_query_heads * head_dim = 512"), std::string::npos) << s;
  s = cache->Attention(queries, absl::MakeSpan(out).subspan(0, 100));
  EXPECT_NE(message(s).find("output holds 100 floats, 512 are needed"), std::string::npos) << s;
  queries[3 * 128 + 2] = std::nanf("");
  s = cache->Attention(queries, absl::MakeSpan(out));
  EXPECT_NE(message(s).find("query token 0, head 3, channel 2 is not finite"), std::string::npos) << s;

  std::vector<float> huge(256, 3e37f);
  s = cache->Append(huge, huge);
  EXPECT_NE(message(s).find("too large"), std::string::npos) << s;

  std::vector<float> exact_out(out.size());
  s = ExactAttention(config, absl::MakeSpan(keys).subspan(0, 300), values, queries, absl::MakeSpan(exact_out));
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace turboquant
