// The data set tq_compare runs on: base vectors, queries and exact ground truth.
#ifndef TURBOQUANT_BENCH_COMPARE_DATASET_H_
#define TURBOQUANT_BENCH_COMPARE_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

namespace tqbench {

enum class BenchMetric { kInnerProduct, kCosine, kL2 };
const char* BenchMetricName(BenchMetric metric);
bool ParseBenchMetric(const std::string& name, BenchMetric* metric);

struct Dataset {
  std::string name;
  BenchMetric metric = BenchMetric::kInnerProduct;
  int dim = 0;
  int64_t num_base = 0;
  int64_t num_queries = 0;
  std::vector<float> base;     // num_base * dim, as read (TurboQuant gets these)
  std::vector<float> queries;  // num_queries * dim, as read
  // For cosine only: L2-normalized copies that FAISS searches by inner product.
  std::vector<float> base_normalized;
  std::vector<float> queries_normalized;
  // Exact top-gt_k ids per query, best first.
  int gt_k = 0;
  std::vector<int64_t> ground_truth;
  std::string ground_truth_source;  // file name, or "computed (faiss IndexFlat)"

  // The vectors FAISS indexes and searches: normalized for cosine, else as read.
  const float* faiss_base() const {
    return metric == BenchMetric::kCosine ? base_normalized.data() : base.data();
  }
  const float* faiss_queries() const {
    return metric == BenchMetric::kCosine ? queries_normalized.data() : queries.data();
  }
};

// Reads base and queries (.fvecs/.bvecs/... through turboquant/io.h) and, if given, the ground
// truth (.ivecs). Exits with a message on any error.
Dataset LoadDataset(const std::string& base_path, const std::string& query_path,
                    const std::string& ground_truth_path, BenchMetric metric);

// num_base + num_queries i.i.d. Gaussian vectors normalized to unit length (seeded).
Dataset MakeSyntheticDataset(int64_t num_base, int dim, int64_t num_queries, BenchMetric metric,
                             uint64_t seed);

// Fills the normalized copies (cosine) and, when the data set has none or too short a ground
// truth, computes the exact top-k with FAISS IndexFlat (IP for ip/cosine, L2 for l2).
void PrepareDataset(Dataset* data, int k, int threads);

}  // namespace tqbench

#endif  // TURBOQUANT_BENCH_COMPARE_DATASET_H_
