// Kernels behind ScanForCandidates, one entry per path. All merge into
// best[q] (q < tables.num_queries) the best `keep` rows of blocks
// [block_begin, block_end) that `allowed` admits.
#ifndef TURBOQUANT_SRC_SCAN_SCAN_KERNELS_H_
#define TURBOQUANT_SRC_SCAN_SCAN_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "src/scan/query_tables.h"
#include "src/scan/scan.h"
#include "src/scan/scan_layout.h"

namespace turboquant::internal {

// The nibble-table scan in plain scalar C++: the same u8 tables, the same
// integer sums and the same float operations in the same order as the SIMD
// kernel (src/scan/lut_scan.cc), so both give bit-identical scores. It is the
// readable statement of what the SIMD kernel computes and what tests compare
// it with. int8_mse: the MSE section by the int8 dot product of the AVX-512
// VNNI target (query_tables.h, Int8Codebook) instead of the u8 tables.
void ScanBlocksLutScalar(const ScanLayout::Data& layout, const QueryTables::Data& tables,
                         size_t block_begin, size_t block_end, RowMask allowed,
                         size_t keep, std::vector<Candidate>* best, bool int8_mse);

// Whether the kernel of the CPU target chosen now scores the MSE section of
// 3/4-bit indices by int8 dot products (AVX-512 VNNI) rather than by u8 tables.
bool ScanPrefersInt8Dot();

// Whether ScanForCandidates, on the CPU target chosen now, scores the MSE
// section of these tables by int8 dot products.
bool ScanUsesInt8Dot(const QueryTables& tables);

// MSE indices wider than 4 bits: every row scored with the codec's float
// estimator (exact, slow).
void ScanBlocksGeneric(const ScanLayout::Data& layout, const QueryTables::Data& tables,
                       size_t block_begin, size_t block_end, RowMask allowed, size_t keep,
                       std::vector<Candidate>* best);

// Whether this CPU has AVX512-VNNI and AVX512-VBMI, which the int8 MSE path
// of the HWY_AVX3_DL kernel uses. Highway's AVX3_DL detection requires both on
// every CPU known to ship them, but the check is cheap and makes the path
// independent of that detail.
inline bool CpuHasVnniVbmi() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  static const bool has =
      __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
  return has;
#else
  return false;
#endif
}

// Float score of the objective from an inner-product estimate and ||x||.
inline float ObjectiveScore(ScanObjective objective, float ip, float norm) {
  return objective == ScanObjective::kInnerProduct ? ip : (ip + ip) - norm * norm;
}

// Bits of block b that hold rows (< size).
inline uint32_t BlockValidBits(size_t size, size_t b) {
  const size_t first = b * kBlockVectors;
  if (first + kBlockVectors <= size) return 0xFFFFFFFFu;
  return first >= size ? 0u : (uint32_t{1} << (size - first)) - 1;
}

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_SCAN_KERNELS_H_
