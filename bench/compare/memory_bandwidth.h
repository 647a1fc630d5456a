// Single-core memory read bandwidth, measured in-process.
#ifndef TURBOQUANT_BENCH_COMPARE_MEMORY_BANDWIDTH_H_
#define TURBOQUANT_BENCH_COMPARE_MEMORY_BANDWIDTH_H_

#include <cstddef>

namespace tqbench {

// Best-of-`runs` bytes per second of one thread summing a `bytes` buffer (64-bit words, several
// independent accumulators, so the adds are never the bottleneck). The buffer is written once
// first, so every page is mapped and nothing is served from the zero page.
double MeasureReadBandwidth(size_t bytes = size_t{1} << 30, int runs = 5);

}  // namespace tqbench

#endif  // TURBOQUANT_BENCH_COMPARE_MEMORY_BANDWIDTH_H_
