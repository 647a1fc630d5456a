// Contract between the index and the scan kernels (ARCHITECTURE.md section 5).
//
// The index stores each segment's codes in a ScanLayout: blocks of 32
// vectors, the same byte group of all 32 vectors contiguous, nibble-friendly
// so that one 16-entry u8 lookup table per nibble and a byte shuffle score
// 32 vectors at once. Per-vector floats (norm, scale/gamma) live beside the
// blocks (SoA). The scan returns, per query, the best `keep` rows by an
// approximate score; the index re-scores those with the exact float estimator
// (ScanLayout::ExtractCode + Codec::EstimateInnerProduct).
#ifndef TURBOQUANT_SRC_SCAN_SCAN_H_
#define TURBOQUANT_SRC_SCAN_SCAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "turboquant/codec.h"

namespace turboquant::internal {

inline constexpr size_t kBlockVectors = 32;

// What the scan ranks by; larger is better in every case.
enum class ScanObjective {
  kInnerProduct,        // <q, x>
  kNegativeL2Partial,   // 2<q, x> - ||x||^2  (= ||q||^2 - ||q - x||^2)
};

struct Candidate {
  float score;
  uint32_t row;
};

class ScanLayout {
 public:
  explicit ScanLayout(const Codec& codec);
  ~ScanLayout();
  ScanLayout(ScanLayout&&) noexcept;
  ScanLayout& operator=(ScanLayout&&) noexcept;

  // Appends n flat codec codes (n * codec.code_size() bytes).
  void Append(const uint8_t* codes, size_t n);
  size_t size() const;
  size_t num_blocks() const;
  // Writes row's flat codec code (codec.code_size() bytes).
  void ExtractCode(size_t row, uint8_t* code) const;
  // Bytes held (blocks + per-vector floats).
  size_t memory_bytes() const;

 private:
  friend class QueryTables;
  friend void ScanForCandidates(const ScanLayout&, const class QueryTables&, size_t, size_t,
                                const uint64_t*, size_t, std::vector<std::vector<Candidate>>*);
  struct Data;
  std::unique_ptr<Data> data_;
};

// Lookup tables of a batch of queries for one codec.
class QueryTables {
 public:
  // queries: num_queries * dim floats (raw, not rotated).
  QueryTables(const Codec& codec, const float* queries, size_t num_queries,
              ScanObjective objective);
  ~QueryTables();
  size_t num_queries() const;

 private:
  friend void ScanForCandidates(const ScanLayout&, const QueryTables&, size_t, size_t,
                                const uint64_t*, size_t, std::vector<std::vector<Candidate>>*);
  struct Data;
  std::unique_ptr<Data> data_;
};

// Scans blocks [block_begin, block_end) for every query of `tables` and merges
// into (*best)[q] the best `keep` rows by approximate score (unsorted is fine;
// the vector holds at most `keep` entries on return). `allowed` is null or a
// bitmap over rows (bit r set = row r may be returned). Thread-safe for
// concurrent calls on distinct `best` outputs.
void ScanForCandidates(const ScanLayout& layout, const QueryTables& tables, size_t block_begin,
                       size_t block_end, const uint64_t* allowed, size_t keep,
                       std::vector<std::vector<Candidate>>* best);

// The same result computed with plain scalar float code, for tests.
void ScanForCandidatesReference(const ScanLayout& layout, const Codec& codec, const float* queries,
                                size_t num_queries, ScanObjective objective, const uint64_t* allowed,
                                size_t keep, std::vector<std::vector<Candidate>>* best);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_SCAN_H_
