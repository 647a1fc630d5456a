#include "bench/compare/faiss_methods.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexPQFastScan.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/utils/utils.h>

namespace tqbench {
namespace {

faiss::MetricType FaissMetric(const Dataset& data) {
  return data.metric == BenchMetric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

// Searches any faiss::Index; omp_set_num_threads sets the threads FAISS's OpenMP loops use.
class FaissSearcher : public Searcher {
 public:
  FaissSearcher(const faiss::Index* index, const Dataset& data, double scanned_bytes)
      : index_(index), data_(data), scanned_bytes_(scanned_bytes) {}

  void Search(int64_t first, int64_t count, int k, int threads, int64_t* ids) override {
    omp_set_num_threads(threads);
    distances_.resize(static_cast<size_t>(count) * k);
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "faiss::Index::idx_t is 64-bit");
    index_->search(count, data_.faiss_queries() + first * data_.dim, k, distances_.data(),
                   reinterpret_cast<faiss::Index::idx_t*>(ids));
  }
  double ScannedBytesPerQuery() const override { return scanned_bytes_; }

 private:
  const faiss::Index* index_;
  const Dataset& data_;
  double scanned_bytes_;
  std::vector<float> distances_;
};

Row BaseRow(const char* method, double bits_per_dim) {
  Row row;
  row.method = method;
  row.bits_per_dim = bits_per_dim;
  row.build_options = FaissCompileOptions();
  return row;
}

void Progress(const Row& row) {
  std::fprintf(stderr, "  %s %s rerank=%d: built in %.2f s, measuring...\n", row.method.c_str(),
               row.params.c_str(), row.rerank, row.build_s);
}

}  // namespace

std::string FaissCompileOptions() { return faiss::get_compile_options(); }

void RunFaissFlat(const Dataset& data, const FaissOptions& faiss, const MeasureOptions& measure,
                  const EmitRow& emit) {
  omp_set_num_threads(faiss.build_threads);
  Row row = BaseRow("faiss-flat", 32);
  row.params = data.metric == BenchMetric::kL2 ? "IndexFlatL2" : "IndexFlatIP";
  const double start = Seconds();
  faiss::IndexFlat index(data.dim, FaissMetric(data));
  index.add(data.num_base, data.faiss_base());
  row.build_s = Seconds() - start;
  row.bytes_per_vector = 4.0 * data.dim;
  Progress(row);
  FaissSearcher searcher(&index, data, row.bytes_per_vector * data.num_base);
  Measure(&searcher, data, measure, &row);
  emit(row);
}

void RunFaissPqFastScan(const Dataset& data, int bits_per_dim, int rerank,
                        const FaissOptions& faiss, const MeasureOptions& measure,
                        const EmitRow& emit) {
  const int m = data.dim * bits_per_dim / 4;
  if (m < 1 || data.dim % m != 0) {
    std::fprintf(stderr, "  faiss-pqfastscan %d bits/dim: dim %d not divisible by M = %d; skipped\n",
                 bits_per_dim, data.dim, m);
    return;
  }
  omp_set_num_threads(faiss.build_threads);
  Row row = BaseRow("faiss-pqfastscan", bits_per_dim);
  row.params = "PQ" + std::to_string(m) + "x4fs";
  double start = Seconds();
  faiss::IndexPQFastScan index(data.dim, m, 4, FaissMetric(data));
  // Training sample: evenly strided rows (k-means itself subsamples to 256 points per centroid).
  const int64_t sample = std::min(data.num_base, faiss.pq_train_sample);
  std::vector<float> train(static_cast<size_t>(sample) * data.dim);
  for (int64_t i = 0; i < sample; ++i) {
    const int64_t src = i * data.num_base / sample;
    std::copy_n(data.faiss_base() + src * data.dim, data.dim, train.data() + i * data.dim);
  }
  index.train(sample, train.data());
  train.clear();
  train.shrink_to_fit();
  index.add(data.num_base, data.faiss_base());
  row.build_s = Seconds() - start;
  row.bytes_per_vector = m / 2.0;  // two 4-bit codes per byte
  Progress(row);
  {
    // The packed blocks are what a query reads (rounded up to 32-vector blocks).
    FaissSearcher searcher(&index, data, static_cast<double>(index.ntotal2) * index.M2 / 2);
    Measure(&searcher, data, measure, &row);
    emit(row);
  }
  if (rerank <= 0) return;

  Row refined = row;
  refined.rerank = rerank;
  const int k_factor = std::max(1, rerank / measure.k);
  refined.params = row.params + "+RefineFlat(k_factor=" + std::to_string(k_factor) + ")";
  start = Seconds();
  faiss::IndexRefineFlat refine(&index, data.faiss_base());  // copies the float vectors
  refine.k_factor = k_factor;
  refined.build_s = row.build_s + (Seconds() - start);
  refined.bytes_per_vector = row.bytes_per_vector + 4.0 * data.dim;
  Progress(refined);
  FaissSearcher searcher(&refine, data, static_cast<double>(index.ntotal2) * index.M2 / 2);
  Measure(&searcher, data, measure, &refined);
  emit(refined);
}

void RunFaissSq4(const Dataset& data, const FaissOptions& faiss, const MeasureOptions& measure,
                 const EmitRow& emit) {
  omp_set_num_threads(faiss.build_threads);
  Row row = BaseRow("faiss-sq4", 4);
  row.params = "SQ4 (QT_4bit)";
  const double start = Seconds();
  faiss::IndexScalarQuantizer index(data.dim, faiss::ScalarQuantizer::QT_4bit, FaissMetric(data));
  index.train(data.num_base, data.faiss_base());  // per-dimension min/max over the base
  index.add(data.num_base, data.faiss_base());
  row.build_s = Seconds() - start;
  row.bytes_per_vector = static_cast<double>(index.code_size);
  Progress(row);
  FaissSearcher searcher(&index, data, row.bytes_per_vector * data.num_base);
  Measure(&searcher, data, measure, &row);
  emit(row);
}

void RunFaissHnsw(const Dataset& data, const FaissOptions& faiss, const MeasureOptions& measure,
                  const EmitRow& emit) {
  omp_set_num_threads(faiss.build_threads);
  Row row = BaseRow("faiss-hnsw", 32);
  row.params = "HNSW" + std::to_string(faiss.hnsw_m) + ",Flat efC=" +
               std::to_string(faiss.hnsw_ef_construction) +
               " efS=" + std::to_string(faiss.hnsw_ef_search);
  const double start = Seconds();
  faiss::IndexHNSWFlat index(data.dim, faiss.hnsw_m, FaissMetric(data));
  index.hnsw.efConstruction = faiss.hnsw_ef_construction;
  index.hnsw.efSearch = faiss.hnsw_ef_search;
  index.add(data.num_base, data.faiss_base());
  row.build_s = Seconds() - start;
  // Float vectors plus the neighbour lists of every level (int32 ids).
  row.bytes_per_vector = 4.0 * data.dim +
                         4.0 * static_cast<double>(index.hnsw.neighbors.size()) / data.num_base;
  Progress(row);
  FaissSearcher searcher(&index, data, NAN);
  Measure(&searcher, data, measure, &row);
  emit(row);
}

}  // namespace tqbench
