// The FAISS side of the comparison: flat (exact), PQ fast-scan, SQ 4-bit, HNSW.
#ifndef TURBOQUANT_BENCH_COMPARE_FAISS_METHODS_H_
#define TURBOQUANT_BENCH_COMPARE_FAISS_METHODS_H_

#include <functional>
#include <string>

#include "bench/compare/dataset.h"
#include "bench/compare/measure.h"

namespace tqbench {

struct FaissOptions {
  int build_threads = 1;
  int hnsw_m = 32;
  int hnsw_ef_search = 128;
  int hnsw_ef_construction = 40;  // FAISS's default
  int64_t pq_train_sample = 100000;
};

// faiss::get_compile_options(), e.g. "OPTIMIZE AVX2".
std::string FaissCompileOptions();

// Each Run* builds one index, measures every row it yields and hands each to `emit`; the index
// is freed before returning. Build time covers training (counted in build_s) and adding.
using EmitRow = std::function<void(Row)>;

void RunFaissFlat(const Dataset& data, const FaissOptions& faiss, const MeasureOptions& measure,
                  const EmitRow& emit);
// IndexPQFastScan with 4-bit sub-quantizers, M = dim * bits_per_dim / 4. With rerank > 0 also a
// row that re-ranks the best `rerank` with IndexRefineFlat (k_factor = rerank / k).
void RunFaissPqFastScan(const Dataset& data, int bits_per_dim, int rerank,
                        const FaissOptions& faiss, const MeasureOptions& measure,
                        const EmitRow& emit);
void RunFaissSq4(const Dataset& data, const FaissOptions& faiss, const MeasureOptions& measure,
                 const EmitRow& emit);
void RunFaissHnsw(const Dataset& data, const FaissOptions& faiss, const MeasureOptions& measure,
                  const EmitRow& emit);

}  // namespace tqbench

#endif  // TURBOQUANT_BENCH_COMPARE_FAISS_METHODS_H_
