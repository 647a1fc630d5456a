// Per-query u8 lookup tables for the nibble scan (see scan_layout.h for the
// code layout they match).
//
// For nibble t of a section, T_t[v] (v = 0..15) is the float contribution of
// that nibble's dims to the section's dot product:
//   MSE, m in {1,2,4}:  sum over the 4/m dims j of the nibble of Rq[j] * c[index_j(v)]
//   MSE, m = 3:         Rq[j] * c[index(v)], j = NibbleDim(t) and index(v) the
//                       three bits of v beside its spare bit (scan_layout.h),
//                       so each value appears twice
//   signs:              sum over the 4 dims j of (bit_j(v) ? +1 : -1) * SRq[j]
// (dims past `dim` count as 0). Tables are quantized to u8 with the table's
// own minimum subtracted and one step `delta` shared by all tables of the
// section, so that sum_t T_t[v_t] ~ delta * sum_t u8_t[v_t] + offset, with
// offset = sum_t min_t. Rounding error: at most delta / 2 per nibble.
//
// Memory: per query and group pair p, 64 bytes
//   [T_(4p) T_(4p+2) | T_(4p+1) T_(4p+3)]  (section-local nibble numbers)
// i.e. the low-nibble tables of groups 2p and 2p+1, then their high-nibble
// tables: the order of the 128-bit lanes of a block pair (scan_layout.h).
#ifndef TURBOQUANT_SRC_SCAN_QUERY_TABLES_H_
#define TURBOQUANT_SRC_SCAN_QUERY_TABLES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "src/scan/scan.h"
#include "src/scan/scan_layout.h"

namespace turboquant::internal {

// Table entries are 0..255 for the MSE section, 0..127 for the sign section:
// with at most 127 the low- and high-nibble lookups of a byte add up in u8
// without overflow, which saves two of the eight vector ops per group pair and
// query in the kernel (the sign term is the noisy QJL correction; one bit less
// of table precision is far below its own variance).
inline constexpr int kMseTableMax = 255;
inline constexpr int kSignTableMax = 127;

// Per-query constants that turn u32 table sums into float scores.
struct QueryScale {
  float mse_delta = 0.0f, mse_offset = 0.0f;
  // The int8 dot-product form of the MSE section (see Int8Codebook below):
  // <Rq, c[idx]> ~ (S - int8_bias) * int8_delta.
  float int8_delta = 0.0f;
  int32_t int8_bias = 0;
  // The sign section, already multiplied by the codec's qjl_scale.
  float sign_delta = 0.0f, sign_offset = 0.0f;
};

// The "permute-dot" form of the MSE section, for indices of 3 or 4 bits (one
// per nibble) on CPUs with AVX-512 VNNI: the codebook is quantized to int8 and
// stored as u8 = c8 + 128 (query-independent, one register), the rotated query
// to int8 q8 with its own scale, and vpdpbusd accumulates exact int32 sums
//   S = sum_j u8[idx_j] * q8_j = sum_j c8[idx_j] q8_j + 128 sum_j q8_j,
// so <Rq, c[idx]> ~ (S - int8_bias) * int8_delta with
//   int8_bias = 128 * sum_j q8_j (subtracted exactly, in int32),
//   int8_delta = 1 / (query scale * codebook scale).
// One vpdpbusd scores 16 vectors x 4 dims per query, against 32 vector-nibbles
// for the two shuffles + six adds of the u8-table form.
struct Int8Codebook {
  bool available = false;  // index bits 3 or 4
  // Entry i = c8[i % levels] + 128 (vpermb ignores bits 6, 7; the 3-bit
  // kernel places an index in bits 0..2 and leaves garbage above).
  alignas(64) uint8_t biased[64] = {};
};

struct QueryTables::Data {
  const Codec* codec = nullptr;
  CodeShape shape;
  ScanObjective objective = ScanObjective::kInnerProduct;
  size_t num_queries = 0;
  size_t table_bytes = 0;  // per query: shape.groups * 32
  // The MSE part of `tables` is built (else left unset: the int8 form scores it).
  bool u8_mse = false;
  hwy::AlignedFreeUniquePtr<uint8_t[]> tables{nullptr, hwy::AlignedFreer()};
  std::vector<QueryScale> scales;
  Int8Codebook int8_codebook;
  bool int8_mse = false;        // int8_queries and the int8 scales are built
  size_t int8_query_bytes = 0;  // per query: 2 * shape.mse.groups, nibble j = NibbleDim(j)
  hwy::AlignedFreeUniquePtr<int8_t[]> int8_queries{nullptr, hwy::AlignedFreer()};
  std::vector<Codec::PreparedQuery> prepared;  // used by the generic path

  const uint8_t* tables_of(size_t q) const { return tables.get() + q * table_bytes; }
  const int8_t* int8_query_of(size_t q) const { return int8_queries.get() + q * int8_query_bytes; }
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_SCAN_QUERY_TABLES_H_
