// The TurboQuant side of the comparison: TurboQuantIndex with either codec.
#ifndef TURBOQUANT_BENCH_COMPARE_TURBOQUANT_METHODS_H_
#define TURBOQUANT_BENCH_COMPARE_TURBOQUANT_METHODS_H_

#include "bench/compare/dataset.h"
#include "bench/compare/faiss_methods.h"  // EmitRow
#include "bench/compare/measure.h"
#include "turboquant/codec.h"

namespace tqbench {

// Builds one TurboQuantIndex (codec, bits; keep_vectors when rerank > 0) over the raw base
// (cosine: Metric::kCosine, the index normalizes) and measures a row without exact re-ranking
// and, when rerank > 0, a row that re-ranks the best `rerank` candidates exactly.
void RunTurboQuant(const Dataset& data, turboquant::CodecKind codec, int bits, int rerank,
                   int build_threads, const MeasureOptions& measure, const EmitRow& emit);

}  // namespace tqbench

#endif  // TURBOQUANT_BENCH_COMPARE_TURBOQUANT_METHODS_H_
