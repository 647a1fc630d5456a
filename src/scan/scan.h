// Contract between the index and the scan kernels (ARCHITECTURE.md section 5).
//
// The index stores each segment's codes in a ScanLayout: blocks of 32
// vectors, the same byte group of all 32 vectors contiguous, nibble-friendly
// so that one 16-entry u8 lookup table per nibble and a byte shuffle score
// 32 vectors at once. Per-vector floats (norm, scale/gamma) live beside the
// blocks (SoA). The scan returns, per query, the best `keep` rows by an
// approximate score; the index re-scores those with the exact float estimator
// (ScanLayout::ExtractCode + Codec::EstimateInnerProduct).
//
// Which codes take the fast path: every code whose MSE index has 1..4 bits
// (mse bits 1..4, prod bits 2..5), scored with u8 nibble tables (pshufb) on
// every SIMD target; on AVX-512 VNNI CPUs the MSE part of 3/4-bit indices is
// scored with int8 dot products instead (query_tables.h, Int8Codebook).
// 3-bit indices are stored densely (3 bits per coordinate) and widened to a
// nibble each in registers by the kernels. Wider
// indices (mse 5..8, prod 6..8) are stored as the flat packed bytes,
// transposed, and scored with the float estimator (exact, slower). See
// src/scan/scan_layout.h for the byte layout, src/scan/lut_scan.cc for the
// kernels, src/scan/scan_reference.cc for the scalar statements.
#ifndef TURBOQUANT_SRC_SCAN_SCAN_H_
#define TURBOQUANT_SRC_SCAN_SCAN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "src/scan/row_mask.h"
#include "turboquant/codec.h"

namespace turboquant::internal {

inline constexpr size_t kBlockVectors = 32;
// Version of the in-block byte order (scan_layout.h). Segment files record
// it, so a build with another order refuses them instead of misreading them.
// Version 2: 3-bit MSE indices dense (3 bits per coordinate), not a nibble each.
inline constexpr uint32_t kScanLayoutVersion = 2;

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
  // The codec must outlive the layout.
  explicit ScanLayout(const Codec& codec);
  ~ScanLayout();
  ScanLayout(ScanLayout&&) noexcept;
  ScanLayout& operator=(ScanLayout&&) noexcept;

  // A read-only layout over memory someone else owns (e.g. an mmapped
  // segment file) that holds what block_data()/norm_data()/scalar_data() of a
  // layout of `rows` rows and the same codec returned: ceil(rows / 32) *
  // block_bytes() bytes and ceil(rows / 32) * 32 floats each. The memory must
  // outlive the layout; 64-byte alignment of `blocks` is best for speed.
  // Append on a view first copies it into owned memory.
  static ScanLayout View(const Codec& codec, size_t rows, const uint8_t* blocks,
                         const float* norms, const float* scalars);
  // An owning deep copy.
  ScanLayout Clone() const;

  // Room for `rows` rows in all, so that appending up to that many does not
  // grow the storage step by step (each step a copy and fresh pages).
  void ReserveRows(size_t rows) { Reserve((rows + kBlockVectors - 1) / kBlockVectors); }
  // Appends n flat codec codes (n * codec.code_size() bytes).
  void Append(const uint8_t* codes, size_t n);
  // Appends rows [first, first + count) of `from`, a layout of the same
  // codec. Where both are at a block boundary whole blocks are copied as
  // they are; other rows go through their flat codes.
  void AppendRows(const ScanLayout& from, size_t first, size_t count);
  size_t size() const;
  size_t num_blocks() const;
  // Writes row's flat codec code (codec.code_size() bytes).
  void ExtractCode(size_t row, uint8_t* code) const;
  // Bytes held (blocks + per-vector floats; for a view, the bytes it spans).
  size_t memory_bytes() const;
  // Bytes of one 32-vector block (a function of the codec only).
  size_t block_bytes() const;
  // Bytes held per vector: its share of a block plus its two floats.
  size_t bytes_per_vector() const;
  // The raw storage, for writing segment files: num_blocks() * block_bytes()
  // bytes, and num_blocks() * 32 floats each (an internal order per block).
  absl::Span<const uint8_t> block_data() const;
  absl::Span<const float> norm_data() const;
  absl::Span<const float> scalar_data() const;
  // Bytes one full scan of all blocks reads (code blocks + per-vector floats).
  size_t scan_bytes() const;
  // True when the codes take the nibble-table (SIMD) path, false for the
  // generic float path (MSE indices wider than 4 bits).
  bool uses_lookup_tables() const;

  // Internals for the kernels and tests (src/scan/scan_layout.h).
  struct Data;
  const Data& data() const { return *data_; }

 private:
  void Reserve(size_t blocks);
  std::unique_ptr<Data> data_;
};

// Which forms of the MSE section QueryTables builds: 3/4-bit indices are
// scored by u8 tables or, on AVX-512 VNNI, by int8 dot products, and each
// form costs a table build per query (the u8 tables were ~10% of a siftsmall
// query that never read them).
enum class TableForms {
  kScanned,  // only the form ScanForCandidates reads on the target chosen now
  kAll,      // both where both exist: for tests that switch targets or check the scalar statements
};

// Lookup tables of a batch of queries for one codec.
class QueryTables {
 public:
  // queries: num_queries * dim floats (raw, not rotated). The codec must
  // outlive the tables. Tables of TableForms::kScanned are scanned on the
  // target chosen when they were built.
  QueryTables(const Codec& codec, const float* queries, size_t num_queries, ScanObjective objective,
              TableForms forms = TableForms::kScanned);
  ~QueryTables();
  QueryTables(QueryTables&&) noexcept;
  QueryTables& operator=(QueryTables&&) noexcept;
  size_t num_queries() const;

  // Internals for the kernels and tests (src/scan/query_tables.h).
  struct Data;
  const Data& data() const { return *data_; }

 private:
  std::unique_ptr<Data> data_;
};

// Scans blocks [block_begin, block_end) for every query of `tables` and merges
// into (*best)[q] the best `keep` rows by approximate score (unsorted is fine;
// the vector holds at most `keep` entries on return), of the rows `allowed`
// admits. Thread-safe for concurrent calls on distinct `best` outputs. `best`
// is resized to num_queries if it is smaller.
void ScanForCandidates(const ScanLayout& layout, const QueryTables& tables, size_t block_begin,
                       size_t block_end, RowMask allowed, size_t keep,
                       std::vector<std::vector<Candidate>>* best);

// The same result computed with plain scalar float code (the exact float
// estimator of the codec on every row), for tests.
void ScanForCandidatesReference(const ScanLayout& layout, const Codec& codec, const float* queries,
                                size_t num_queries, ScanObjective objective, RowMask allowed,
                                size_t keep, std::vector<std::vector<Candidate>>* best);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_SCAN_H_
