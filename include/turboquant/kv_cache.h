// KV-cache compression for LLM inference with the TurboQuant codecs, and
// attention computed directly on the compressed codes.
//
// Keys use ProdCodec (the (b-1)-bit MSE code plus QJL sign bits): attention
// logits are inner products, and the prod estimator of <q, k> is unbiased.
// Values use MseCodec. Fractional bit widths (2.5, 3.5) split the channels of
// every KV head into two groups, each quantized by its own codec instance (its
// own rotation and codebook), as the TurboQuant paper does: the head_dim / 4
// "outlier" channels with the largest energy get ceil(bits) bits and the other
// 3/4 get floor(bits). At head_dim 128, 3.5 bits = 32 channels at 4 bits + 96
// at 3 bits = 52 bytes of codes, and the per-token scalars take 4 more bytes,
// so the total storage (codes + scalars) is exactly bits * head_dim / 8 bytes
// per token, per KV head, for keys and for values alike (3.5 -> 56 bytes).
//
// Outlier channels are chosen once per KV head (separately for keys and for
// values) from the mean squared value of each channel over all tokens the
// cache holds when it compresses its first token (the first Append and the
// residual window: at least residual_window + 1 tokens when the window is
// used). They stay fixed afterwards because every stored code refers to them;
// real LLM key outliers sit in the same channels of a head for the whole
// sequence (KIVI, KVQuant), so a prefix identifies them.
//
// The newest `residual_window` tokens stay uncompressed (float32). Attention
// over the compressed tokens never decompresses them: key scores are summed
// from per-query lookup tables (16 tokens per SIMD pass, all query heads of a
// KV head sharing one code decode), and values are accumulated as centroid
// vectors in the rotated domain and rotated back once per query head.
//
// Layouts (row-major float32):
//   keys, values:  [tokens][num_kv_heads][head_dim]
//   queries:       [query_tokens][num_query_heads][head_dim]
//   outputs:       [query_tokens][num_query_heads][head_dim]
// Query head h attends with KV head h / (num_query_heads / num_kv_heads).
// Every query token attends to every cached token (a decode step; no causal
// mask among several query tokens of one call).
#ifndef TURBOQUANT_KV_CACHE_H_
#define TURBOQUANT_KV_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "turboquant/status.h"

namespace turboquant {

struct KvCacheConfig {
  // Far beyond any model's head count; per-head state is sized from these, so
  // larger counts are rejected rather than allocated.
  static constexpr int kMaxHeads = 1024;

  int head_dim = 128;        // a multiple of 64, 64 .. 512
  int num_kv_heads = 8;      // 1 .. kMaxHeads
  int num_query_heads = 32;  // a multiple of num_kv_heads (grouped-query attention), up to kMaxHeads
  double key_bits = 3.5;     // 2, 2.5, 3, 3.5 or 4
  double value_bits = 3.5;   // 2, 2.5, 3, 3.5 or 4
  int residual_window = 128; // newest tokens kept in float32, >= 0
  // softmax(q.k * softmax_scale); 0 means 1 / sqrt(head_dim).
  double softmax_scale = 0.0;
  uint64_t seed = 0x6b76636163686521ULL;

  // Checks every field; the message names the offending one.
  Status Validate() const;
  // Bytes of float16 keys + values per token over all KV heads (the usual
  // uncompressed cache): 2 * num_kv_heads * head_dim * 2.
  size_t fp16_bytes_per_token() const;
};

// One layer's cache. Append and Attention may not run concurrently with each
// other; several const calls (Attention, KeyScores, Decompress) may.
class KvCache {
 public:
  static StatusOr<std::unique_ptr<KvCache>> Create(const KvCacheConfig& config);
  ~KvCache();

  const KvCacheConfig& config() const;
  int64_t num_tokens() const;             // all tokens appended
  int64_t num_compressed_tokens() const;  // tokens outside the residual window

  // Appends keys.size() / (num_kv_heads * head_dim) tokens (the same count of
  // values). Rejects shapes that do not match and non-finite components
  // (naming token, head and channel); on error nothing is appended.
  Status Append(absl::Span<const float> keys, absl::Span<const float> values);

  // outputs = softmax(q . K^T * scale) . V over every cached token, for each
  // query token and query head. outputs must hold queries.size() floats.
  Status Attention(absl::Span<const float> queries, absl::Span<float> outputs) const;

  // Debugging and tests. The estimated <q, k> (no softmax scale) of every
  // cached token, oldest first: scores[(qt * num_query_heads + h) * num_tokens() + t].
  Status KeyScores(absl::Span<const float> queries, absl::Span<float> scores) const;
  // The keys and values as the cache represents them (estimates for
  // compressed tokens, exact for the window), [num_tokens][num_kv_heads][head_dim].
  Status Decompress(std::vector<float>* keys, std::vector<float>* values) const;

  // Everything held: codes, per-token scalars, the float window and the
  // per-head channel maps (allocation slack excluded).
  size_t bytes_used() const;
  // Bytes stored per compressed token over all KV heads, keys + values
  // (codes + per-token scalars; the window is excluded).
  size_t bytes_per_token() const;
  size_t key_bytes_per_token_per_head() const;
  size_t value_bytes_per_token_per_head() const;

  // Tests: run the scalar reference kernels instead of the SIMD ones.
  void set_use_reference_kernels_for_testing(bool use) { use_reference_kernels_ = use; }

  struct Impl;

 private:
  explicit KvCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  bool use_reference_kernels_ = false;
};

// Exact float32 attention over uncompressed keys and values in the layouts
// above (num_tokens = keys.size() / (num_kv_heads * head_dim)); the reference
// the cache is measured against. Uses the same SIMD dispatch as the cache.
Status ExactAttention(const KvCacheConfig& config, absl::Span<const float> keys,
                      absl::Span<const float> values, absl::Span<const float> queries,
                      absl::Span<float> outputs);

}  // namespace turboquant

#endif  // TURBOQUANT_KV_CACHE_H_
