// Synthetic keys, values and queries shaped like an LLM's attention inputs,
// for the KV-cache tests, benchmark and `tqindex kv-bench`.
//
// Per KV head: keys have a few heavy outlier channels (a large per-channel
// offset and a large spread, as real LLM keys show in a handful of channels
// per head) and per-channel scales elsewhere; queries are larger in the same
// outlier channels, so those channels dominate the logit spread. Values are
// Gaussian with per-channel scales and, optionally, per-channel means (real
// value caches have them; the isotropic case is the hardest for any scalar
// quantizer because nothing is shared between tokens).
#ifndef TURBOQUANT_SRC_KV_SYNTHETIC_KV_H_
#define TURBOQUANT_SRC_KV_SYNTHETIC_KV_H_

#include <cstdint>
#include <vector>

namespace turboquant::internal {

struct SyntheticKvOptions {
  int tokens = 4096;
  int kv_heads = 2;
  int query_heads = 8;
  int head_dim = 128;
  int query_tokens = 1;
  int outlier_channels = 4;  // per KV head
  float outlier_scale = 6.0f;
  float query_scale = 1.0f;
  bool value_means = true;
  uint64_t seed = 1;
};

struct SyntheticKv {
  std::vector<float> keys;     // [tokens][kv_heads][head_dim]
  std::vector<float> values;   // [tokens][kv_heads][head_dim]
  std::vector<float> queries;  // [query_tokens][query_heads][head_dim]
};

SyntheticKv MakeSyntheticKv(const SyntheticKvOptions& options);

// The needle test: `trials` synthetic queries over one KV head of `tokens`
// synthetic keys; for each query one key at a random position is moved along
// the query until its true score is the best other token's plus `margin`
// softmax logits (a weight e^margin times the runner-up's). Returns the
// fraction of valid trials (the needle really is the true top token) in which
// the cache's estimated scores also rank the needle first; *valid_trials gets
// their count. Returns a negative value if the cache cannot be built.
double NeedleTopRate(double bits, double margin, int tokens, int trials, int head_dim,
                     uint64_t seed, int* valid_trials);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_KV_SYNTHETIC_KV_H_
