#include "bench/compare/memory_bandwidth.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace tqbench {
namespace {

// noinline keeps the compiler from folding the sum into the fill.
__attribute__((noinline)) uint64_t SumWords(const uint64_t* words, size_t n) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 += words[i + 0];
    a1 += words[i + 1];
    a2 += words[i + 2];
    a3 += words[i + 3];
    a4 += words[i + 4];
    a5 += words[i + 5];
    a6 += words[i + 6];
    a7 += words[i + 7];
  }
  for (; i < n; ++i) a0 += words[i];
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

}  // namespace

double MeasureReadBandwidth(size_t bytes, int runs) {
  const size_t n = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t, decltype(&std::free)> buffer(
      static_cast<uint64_t*>(std::aligned_alloc(64, n * sizeof(uint64_t))), &std::free);
  if (!buffer) return 0;
  for (size_t i = 0; i < n; ++i) buffer.get()[i] = i * 0x9E3779B97F4A7C15ULL;
  double best = 0;
  volatile uint64_t sink = 0;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    sink = sink + SumWords(buffer.get(), n);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (seconds > 0 && n * sizeof(uint64_t) / seconds > best) best = n * sizeof(uint64_t) / seconds;
  }
  return best;
}

}  // namespace tqbench
