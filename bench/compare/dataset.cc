#include "bench/compare/dataset.h"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <utility>

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>

#include "turboquant/io.h"

namespace tqbench {

const char* BenchMetricName(BenchMetric metric) {
  switch (metric) {
    case BenchMetric::kInnerProduct: return "ip";
    case BenchMetric::kCosine: return "cosine";
    case BenchMetric::kL2: return "l2";
  }
  return "?";
}

bool ParseBenchMetric(const std::string& name, BenchMetric* metric) {
  if (name == "ip") *metric = BenchMetric::kInnerProduct;
  else if (name == "cosine") *metric = BenchMetric::kCosine;
  else if (name == "l2") *metric = BenchMetric::kL2;
  else return false;
  return true;
}

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "tq_compare: %s\n", message.c_str());
  std::exit(1);
}

turboquant::Matrix ReadMatrixOrDie(const std::string& path) {
  auto matrix = turboquant::ReadVectors(path);
  if (!matrix.ok()) Die(std::string(matrix.status().message()));
  return *std::move(matrix);
}

std::vector<float> NormalizedCopy(const std::vector<float>& rows, int dim) {
  std::vector<float> out(rows);
  const int64_t n = static_cast<int64_t>(rows.size()) / dim;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float* row = out.data() + i * dim;
    double norm2 = 0;
    for (int j = 0; j < dim; ++j) norm2 += static_cast<double>(row[j]) * row[j];
    if (norm2 > 0) {
      const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
      for (int j = 0; j < dim; ++j) row[j] *= inv;
    }
  }
  return out;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Dataset LoadDataset(const std::string& base_path, const std::string& query_path,
                    const std::string& ground_truth_path, BenchMetric metric) {
  Dataset data;
  data.name = BaseName(base_path);
  data.metric = metric;
  turboquant::Matrix base = ReadMatrixOrDie(base_path);
  turboquant::Matrix queries = ReadMatrixOrDie(query_path);
  if (base.dim != queries.dim) {
    Die("base dim " + std::to_string(base.dim) + " != query dim " + std::to_string(queries.dim));
  }
  if (base.rows == 0 || queries.rows == 0) Die("empty base or query file");
  data.dim = base.dim;
  data.num_base = base.rows;
  data.num_queries = queries.rows;
  data.base = std::move(base.data);
  data.queries = std::move(queries.data);
  if (!ground_truth_path.empty()) {
    auto gt = turboquant::ReadIdRows(ground_truth_path);
    if (!gt.ok()) Die(std::string(gt.status().message()));
    if (gt->rows != data.num_queries) {
      Die(ground_truth_path + ": " + std::to_string(gt->rows) + " rows for " +
          std::to_string(data.num_queries) + " queries");
    }
    for (int64_t id : gt->data) {
      if (id < 0 || id >= data.num_base) {
        Die(ground_truth_path + ": id " + std::to_string(id) + " outside the base");
      }
    }
    data.gt_k = gt->dim;
    data.ground_truth = std::move(gt->data);
    data.ground_truth_source = BaseName(ground_truth_path);
  }
  return data;
}

Dataset MakeSyntheticDataset(int64_t num_base, int dim, int64_t num_queries, BenchMetric metric,
                             uint64_t seed) {
  Dataset data;
  data.name = "synthetic-" + std::to_string(num_base) + "x" + std::to_string(dim);
  data.metric = metric;
  data.dim = dim;
  data.num_base = num_base;
  data.num_queries = num_queries;
  data.base.resize(static_cast<size_t>(num_base) * dim);
  data.queries.resize(static_cast<size_t>(num_queries) * dim);
  // Rows are generated in fixed chunks, each from its own seeded stream, so the data does not
  // depend on the thread count.
  const int64_t total = num_base + num_queries;
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (total + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < chunks; ++c) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(c));
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    for (int64_t i = c * kChunk; i < std::min(total, (c + 1) * kChunk); ++i) {
      float* row = i < num_base ? data.base.data() + i * dim
                                : data.queries.data() + (i - num_base) * dim;
      double norm2 = 0;
      for (int j = 0; j < dim; ++j) {
        row[j] = gauss(rng);
        norm2 += static_cast<double>(row[j]) * row[j];
      }
      const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
      for (int j = 0; j < dim; ++j) row[j] *= inv;
    }
  }
  return data;
}

void PrepareDataset(Dataset* data, int k, int threads) {
  omp_set_num_threads(threads);
  if (data->metric == BenchMetric::kCosine) {
    data->base_normalized = NormalizedCopy(data->base, data->dim);
    data->queries_normalized = NormalizedCopy(data->queries, data->dim);
  }
  if (data->gt_k >= k) return;
  if (data->gt_k > 0) {
    std::fprintf(stderr, "ground truth has only %d ids per query (< k = %d); recomputing\n",
                 data->gt_k, k);
  }
  const int gt_k = std::max(k, 10);
  std::fprintf(stderr, "computing exact top-%d ground truth with faiss IndexFlat (%lld x %lld)...\n",
               gt_k, static_cast<long long>(data->num_queries),
               static_cast<long long>(data->num_base));
  const faiss::MetricType metric = data->metric == BenchMetric::kL2 ? faiss::METRIC_L2
                                                                   : faiss::METRIC_INNER_PRODUCT;
  faiss::IndexFlat flat(data->dim, metric);
  flat.add(data->num_base, data->faiss_base());
  std::vector<float> distances(static_cast<size_t>(data->num_queries) * gt_k);
  std::vector<faiss::Index::idx_t> labels(distances.size());
  flat.search(data->num_queries, data->faiss_queries(), gt_k, distances.data(), labels.data());
  data->gt_k = gt_k;
  data->ground_truth.assign(labels.begin(), labels.end());
  data->ground_truth_source = "computed (faiss IndexFlat, float32)";
}

}  // namespace tqbench
