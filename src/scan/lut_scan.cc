// The SIMD nibble-table scan (ARCHITECTURE.md section 5) and the
// ScanForCandidates entry point.
//
// Per block of 32 vectors and per query, for each group pair (64 bytes of
// codes, scan_layout.h):
//   lo = codes & 0x0F, hi = codes >> 4                      (shared by all queries)
//   r_lo = pshufb(T_lo, lo), r_hi = pshufb(T_hi, hi)          (u8 table entries)
// The u8 results are summed in u16 lanes without widening: viewing r as u16,
// lane j = r[2j] + 256 r[2j+1] (vectors 2j and 2j+1 of a half block), so
//   acc_a += r_lo + r_hi            = S_even + 256 S_odd   (mod 2^16)
//   acc_b += (r_lo >> 8) + (r_hi >> 8) = S_odd
// and S_even = acc_a - (acc_b << 8). Both stay exact while each vector has
// summed at most 256 entries of <= 255 (256 * 255 < 2^16), i.e. 256 nibbles =
// 64 group pairs; then the u16 sums are flushed into u32 per vector. (Sign
// tables stop at 127, so r_lo + r_hi is formed in u8 first: 6 ops, not 8.)
// On AVX-512 VNNI the MSE part of 3/4-bit codes uses int8 dot products
// instead (AccumulateMseInt8 below): 2 vpdpbusd per group pair and query.
// Dense 3-bit codes (scan_layout.h) are read as three stored group pairs per
// chunk pair and widened in registers to four nibble group pairs (E0..E3:
// the three as they are, E3 rebuilt from their spare bits), which then take
// the same lookups or dot products.
// Several queries share each code load (kQueriesPerPass); blocks are scanned
// in tiles that stay in L2 while each group of queries passes over them, so a
// batch reads the codes from memory once per tile, not once per query group.
// The u32 sums become float scores with the per-vector norms/scalars, and
// only blocks with a score above the query's current k'-th best touch the heap.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/scan/lut_scan.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "src/scan/query_tables.h"
#include "src/scan/scan_kernels.h"
#include "src/scan/scan_layout.h"
#include "src/scan/top_candidates.h"

HWY_BEFORE_NAMESPACE();
// Highway 1.0.3 compiles HWY_AVX3_DL with "avxvnni" (the VEX form) but not
// "avx512vnni", which _mm512_dpbusd_epi32 needs; every CPU that Highway
// dispatches to AVX3_DL has AVX512-VNNI (its CPUID check requires it).
#if HWY_TARGET == HWY_AVX3_DL
#if HWY_COMPILER_CLANG
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC target("avx512vnni")
#endif
#endif
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET == HWY_SCALAR

// One-lane vectors have no byte shuffle: use the scalar statement.
void ScanBlocksLut(const ScanLayout::Data& layout, const QueryTables::Data& tables,
                   size_t block_begin, size_t block_end, RowMask allowed, size_t keep,
                   std::vector<Candidate>* best) {
  ScanBlocksLutScalar(layout, tables, block_begin, block_end, allowed, keep, best,
                      /*int8_mse=*/false);
}

#else

using D8 = hn::ScalableTag<uint8_t>;
// Bytes per vector: 16 (SSE4/EMU128), 32 (AVX2) or 64 (AVX-512).
constexpr size_t kVecBytes = hn::MaxLanes(D8());
static_assert(kVecBytes == 16 || kVecBytes == 32 || kVecBytes == 64, "unexpected vector size");
// Code loads per group pair, and u16 accumulators per query: with 16/32-byte
// vectors the two halves of a block (vectors 0..15 and 16..31) get their own.
constexpr size_t kLoadsPerPair = 64 / kVecBytes;
constexpr size_t kSubAccumulators = kVecBytes == 64 ? 1 : 2;
// Queries sharing a code load, bounded by registers: 2 u16 accumulators per
// query and sub-accumulator (32 zmm registers on AVX-512, 16 otherwise).
constexpr size_t kQueriesPerPass = kVecBytes == 64 ? 8 : (kVecBytes == 32 ? 4 : 2);
constexpr size_t kPairsPerFlush = 64;  // 256 nibbles: see the comment at the top

// The two 16-byte tables of a pair half, placed in every 128-bit lane the way
// the codes of that load are: AVX-512 lanes hold [group 2p, group 2p+1,
// group 2p, group 2p+1] (one broadcast load), AVX2 lanes [2p, 2p+1], SSE one.
HWY_INLINE hn::Vec<D8> LoadTables(D8 d, const uint8_t* HWY_RESTRICT p) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  (void)d;
  return hn::Vec<D8>{_mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)))};
#else
  return hn::Load(d, p);
#endif
}

// Where a kernel reads the code bytes of group pair p of a section: 64 * p
// bytes on; dense 3-bit codes by chunk pairs (four group pairs each) of
// Dense3Shape::kPairBytes, the last partial one from a filled copy.
struct SectionCodes {
  const uint8_t* codes;
  const uint8_t* partial_pair = nullptr;  // dense 3-bit: FillPartialDense3Pair's copy
  size_t whole_pairs = 0;                 // dense 3-bit: chunk pairs read from `codes`

  const uint8_t* GroupPair(size_t p) const { return codes + 64 * p; }
  const uint8_t* ChunkPair(size_t c) const {
    return c < whole_pairs ? codes + c * Dense3Shape::kPairBytes : partial_pair;
  }
};
// Group pairs per step of the accumulation loops.
template <bool kDense3>
constexpr size_t kPairsPerStep = kDense3 ? 4 : 1;

// E3 of dense 3-bit chunks from N0..N2 (Dense3SpareByte on every byte). The
// 16-bit shifts drag bits across bytes only where the masks clear them.
template <class D>
HWY_INLINE hn::Vec<D> Dense3Spares(D d8, hn::Vec<D> n0, hn::Vec<D> n1, hn::Vec<D> n2) {
  const hn::Repartition<uint16_t, D> d16;
  const auto from0 = hn::BitCast(d8, hn::ShiftRight<2>(hn::BitCast(d16, n0)));
  const auto from2 = hn::BitCast(d8, hn::ShiftLeft<2>(hn::BitCast(d16, n2)));
  const auto from1 = hn::And(n1, hn::Set(d8, 0x11));
  return hn::OrAnd(hn::OrAnd(from1, from0, hn::Set(d8, 0x06)), from2, hn::Set(d8, 0x60));
}

template <size_t kQ>
struct BlockSums {
  HWY_ALIGN uint32_t mse[kQ][kBlockVectors];
  HWY_ALIGN uint32_t sign[kQ][kBlockVectors];
};

// Adds u16 accumulators (stored as 128-bit blocks, the first half of them for
// vectors 0..15, the second for 16..31) to u32 sums in FloatPosition order.
template <size_t kBlocks128>
HWY_INLINE void FlushToU32(const uint16_t* HWY_RESTRICT a, const uint16_t* HWY_RESTRICT b,
                           uint32_t* HWY_RESTRICT sums) {
  const hn::Full128<uint16_t> d16;
  const hn::Full64<uint16_t> d16h;
  const hn::Full128<uint32_t> d32;
  constexpr size_t kPerHalf = kBlocks128 / 2;
  for (size_t h = 0; h < 2; ++h) {
    auto sa = hn::Load(d16, a + 8 * h * kPerHalf);
    auto sb = hn::Load(d16, b + 8 * h * kPerHalf);
    for (size_t k = 1; k < kPerHalf; ++k) {
      sa = hn::Add(sa, hn::Load(d16, a + 8 * (h * kPerHalf + k)));
      sb = hn::Add(sb, hn::Load(d16, b + 8 * (h * kPerHalf + k)));
    }
    const auto even = hn::Sub(sa, hn::ShiftLeft<8>(sb));  // vectors 16h + 2j
    const auto odd = sb;                                  // vectors 16h + 2j + 1
    uint32_t* e = sums + 8 * h;
    uint32_t* o = sums + 16 + 8 * h;
    hn::Store(hn::Add(hn::Load(d32, e), hn::PromoteTo(d32, hn::LowerHalf(even))), d32, e);
    hn::Store(hn::Add(hn::Load(d32, e + 4), hn::PromoteTo(d32, hn::UpperHalf(d16h, even))), d32,
              e + 4);
    hn::Store(hn::Add(hn::Load(d32, o), hn::PromoteTo(d32, hn::LowerHalf(odd))), d32, o);
    hn::Store(hn::Add(hn::Load(d32, o + 4), hn::PromoteTo(d32, hn::UpperHalf(d16h, odd))), d32,
              o + 4);
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
#undef TQ_SCAN_FLUSH_IN_REGISTERS
#define TQ_SCAN_FLUSH_IN_REGISTERS 1
// AVX-512: the same flush without leaving registers. The 128-bit blocks of
// the accumulators are [half 0 group 2p, half 0 group 2p+1, half 1 .., half 1 ..];
// adding the swapped neighbour folds the two groups, OddEvenBlocks pairs even
// sums with odd sums per half, and the promoted halves are concatenated into
// FloatPosition order (0..15 even vectors, 16..31 odd vectors). kFirst stores
// instead of adding, so the sums need no clearing.
template <bool kFirst>
HWY_INLINE void FlushRegisters(hn::Vec<hn::Full512<uint16_t>> a, hn::Vec<hn::Full512<uint16_t>> b,
                               uint32_t* HWY_RESTRICT sums) {
  const hn::Full256<uint16_t> d16h;
  const hn::Full512<uint32_t> d32;
  const auto even = hn::Sub(a, hn::ShiftLeft<8>(b));
  const auto e = hn::Add(even, hn::SwapAdjacentBlocks(even));  // [h0, h0, h1, h1]
  const auto o = hn::Add(b, hn::SwapAdjacentBlocks(b));
  const auto m = hn::OddEvenBlocks(o, e);                       // [e0, o0, e1, o1]
  const auto lower = hn::PromoteTo(d32, hn::LowerHalf(d16h, m));   // positions 0..7, 16..23
  const auto upper = hn::PromoteTo(d32, hn::UpperHalf(d16h, m));   // positions 8..15, 24..31
  auto first = hn::ConcatLowerLower(d32, upper, lower);
  auto second = hn::ConcatUpperUpper(d32, upper, lower);
  if (!kFirst) {
    first = hn::Add(first, hn::Load(d32, sums));
    second = hn::Add(second, hn::Load(d32, sums + 16));
  }
  hn::Store(first, d32, sums);
  hn::Store(second, d32, sums + 16);
}
#else
#undef TQ_SCAN_FLUSH_IN_REGISTERS
#define TQ_SCAN_FLUSH_IN_REGISTERS 0
#endif

#if HWY_TARGET == HWY_AVX3_DL
// AVX-512 VNNI + VBMI: the MSE section of 3/4-bit indices by int8 dot products
// (query_tables.h, Int8Codebook). Highway 1.0.3 has no op for vpdpbusd,
// vpermb or vpmultishiftqb, hence intrinsics. Per group pair (64 code bytes =
// 4 dims of 32 vectors), shared by all queries:
//   vpermb        gathers each vector's two code bytes into a 16-bit word
//                 (dims 4p..4p+3 as nibbles), two vectors per qword;
//   vpmultishiftqb moves nibble k of each word to the low bits of byte k;
//   vpermb        maps the nibble to its biased int8 centroid (a 64-entry
//                 table, entry i = centroid i % 16, so high bits do not matter);
// then per query one vpdpbusd per 16 vectors adds 4 centroid x query products
// into each vector's int32 sum. Output dword k of half h is FloatPosition
// 16h + k, so sums land in the order of the per-vector floats.
constexpr bool kHaveInt8Dot = true;

struct Int8Permutes {
  alignas(64) uint8_t index[2][64];
  Int8Permutes() {
    for (size_t h = 0; h < 2; ++h) {
      for (size_t k = 0; k < 64; ++k) index[h][k] = 0;
      for (size_t k = 0; k < 16; ++k) {
        const size_t v = VectorAtPosition(16 * h + k);
        // Byte of group 2p (g = 0) or 2p + 1 (g = 1) of vector v in a pair.
        for (size_t g = 0; g < 2; ++g) {
          index[h][8 * (k / 2) + 2 * (k % 2) + g] =
              static_cast<uint8_t>(16 * g + 32 * (v / 16) + v % 16);
        }
      }
    }
  }
};

// acc += vpdpbusd(u8 codes, the 4 int8 query dims at `dims4` broadcast).
// Inline asm rather than _mm512_dpbusd_epi32: with the intrinsic GCC 12
// copies every accumulator to a scratch register and back on each use (the
// intrinsic's result is a new value, and the allocator fails to coalesce it
// with 16 live accumulators), which doubled the instructions of this loop;
// "+v" makes the accumulation in place, and the memory operand gets the
// embedded {1to16} broadcast instead of a separate vpbroadcastd.
HWY_INLINE void DotAccumulate(__m512i& acc, __m512i codes, const int8_t* HWY_RESTRICT dims4) {
#if HWY_COMPILER_GCC
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(codes), "m"(*reinterpret_cast<const int32_t*>(dims4)));
#else
  int32_t q;
  std::memcpy(&q, dims4, 4);
  acc = _mm512_dpbusd_epi32(acc, codes, _mm512_set1_epi32(q));
#endif
}

// vpmultishiftqb control: byte k of each qword takes the 8 bits from bit
// 4k + start (nibble k of the word pair), where `start` of the low and high
// nibbles of a byte is 1 for a dense 3-bit index above its spare bit 0
// (scan_layout.h) and 0 otherwise.
inline __m512i NibbleShifts(unsigned lo_start, unsigned hi_start) {
  uint64_t control = 0;
  for (unsigned k = 0; k < 8; ++k) {
    control |= uint64_t{4 * k + (k % 2 ? hi_start : lo_start)} << (8 * k);
  }
  return _mm512_set1_epi64(static_cast<long long>(control));
}
inline __m512i Dense3NibbleShifts(size_t e) {
  return NibbleShifts(Dense3Shape::kSpareBit[e][0] == 0, Dense3Shape::kSpareBit[e][1] == 0);
}

template <size_t kQ, bool kDense3>
HWY_INLINE void AccumulateMseInt8(const SectionCodes& codes,
                                  const int8_t* const* HWY_RESTRICT queries, size_t pairs,
                                  const uint8_t* HWY_RESTRICT codebook,
                                  const int32_t* HWY_RESTRICT biases,
                                  uint32_t (*HWY_RESTRICT sums)[kBlockVectors]) {
  static const Int8Permutes permutes;
  const __m512i gather0 = _mm512_load_si512(permutes.index[0]);
  const __m512i gather1 = _mm512_load_si512(permutes.index[1]);
  const __m512i shifts = NibbleShifts(0, 0);
  const __m512i dense_shifts[4] = {Dense3NibbleShifts(0), Dense3NibbleShifts(1),
                                   Dense3NibbleShifts(2), Dense3NibbleShifts(3)};
  const __m512i book = _mm512_load_si512(codebook);
  static_assert(kQ <= 8, "at most 8 queries per pass");
  // Named accumulators, not an array: an array element whose reference
  // reaches the asm would live in memory.
  __m512i a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7;
  a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = _mm512_setzero_si512();
  b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = _mm512_setzero_si512();
#define TQ_SCAN_DOT(q, c0, c1, p)                      \
  if constexpr (kQ > q) {                              \
    DotAccumulate(a##q, c0, queries[q] + 4 * (p));     \
    DotAccumulate(b##q, c1, queries[q] + 4 * (p));     \
  }
  // One group pair `raw`, its nibbles placed by `control`.
#define TQ_SCAN_DOT_PAIR(raw, control, p)                                                        \
  {                                                                                              \
    const __m512i c0 = _mm512_permutexvar_epi8(                                                  \
        _mm512_multishift_epi64_epi8(control, _mm512_permutexvar_epi8(gather0, raw)), book);     \
    const __m512i c1 = _mm512_permutexvar_epi8(                                                  \
        _mm512_multishift_epi64_epi8(control, _mm512_permutexvar_epi8(gather1, raw)), book);     \
    TQ_SCAN_DOT(0, c0, c1, p) TQ_SCAN_DOT(1, c0, c1, p) TQ_SCAN_DOT(2, c0, c1, p)               \
    TQ_SCAN_DOT(3, c0, c1, p) TQ_SCAN_DOT(4, c0, c1, p) TQ_SCAN_DOT(5, c0, c1, p)               \
    TQ_SCAN_DOT(6, c0, c1, p) TQ_SCAN_DOT(7, c0, c1, p)                                         \
  }
  for (size_t p = 0; p < pairs; p += kPairsPerStep<kDense3>) {
    if constexpr (kDense3) {
      const hn::Full512<uint8_t> d8;
      const uint8_t* chunk_pair = codes.ChunkPair(p / 4);
      const auto n0 = hn::LoadU(d8, chunk_pair);
      const auto n1 = hn::LoadU(d8, chunk_pair + 64);
      const auto n2 = hn::LoadU(d8, chunk_pair + 128);
      const __m512i e3 = Dense3Spares(d8, n0, n1, n2).raw;
      TQ_SCAN_DOT_PAIR(n0.raw, dense_shifts[0], p)
      TQ_SCAN_DOT_PAIR(n1.raw, dense_shifts[1], p + 1)
      TQ_SCAN_DOT_PAIR(n2.raw, dense_shifts[2], p + 2)
      TQ_SCAN_DOT_PAIR(e3, dense_shifts[3], p + 3)
    } else {
      TQ_SCAN_DOT_PAIR(_mm512_loadu_si512(codes.GroupPair(p)), shifts, p)
    }
  }
#undef TQ_SCAN_DOT_PAIR
#undef TQ_SCAN_DOT
#define TQ_SCAN_STORE(q)                                                       \
  if constexpr (kQ > q) {                                                      \
    const __m512i bias = _mm512_set1_epi32(biases[q]);                         \
    _mm512_store_si512(sums[q], _mm512_sub_epi32(a##q, bias));                 \
    _mm512_store_si512(sums[q] + 16, _mm512_sub_epi32(b##q, bias));            \
  }
  TQ_SCAN_STORE(0) TQ_SCAN_STORE(1) TQ_SCAN_STORE(2) TQ_SCAN_STORE(3)
  TQ_SCAN_STORE(4) TQ_SCAN_STORE(5) TQ_SCAN_STORE(6) TQ_SCAN_STORE(7)
#undef TQ_SCAN_STORE
}

// AccumulateMseInt8's sums for the rows in `rows` alone, one row at a time,
// for blocks where a sparse allow list leaves a few rows: a filtered scan
// waits on the block kernel as well as on memory (scoring all 32 rows of each
// block took ~0.6 ms of a 2.2 ms 1% filtered search), and one row costs a
// fraction of that. A 1% filtered search took 0.87x as long with up to
// kMaxRowsOneByOne = 4 rows one by one, 0.89x with up to 2 or 8. The same
// integer products, summed in another order, so the sums are bit-identical.
// Row v's code bytes of group pair p are bytes o and o + 16 of the pair's 64
// (Int8Permutes), o = 32 (v / 16) + v % 16; gathered in that order they are
// the row's nibbles in query byte order.
constexpr size_t kMaxRowsOneByOne = 4;
// acc + vpdpbusd(u8 values, s8 weights), in inline asm like DotAccumulate:
// clang 14 refuses the intrinsic here (it does not see the avx512vnni
// target that the pragma above gives GCC).
HWY_INLINE __m512i DotBytes(__m512i acc, __m512i values, __m512i weights) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(values), "v"(weights));
  return acc;
}
template <size_t kQ>
HWY_INLINE void RowsMseInt8(const uint8_t* HWY_RESTRICT block, uint32_t rows, size_t pairs,
                            const int8_t* const* HWY_RESTRICT queries,
                            const uint8_t* HWY_RESTRICT codebook,
                            const int32_t* HWY_RESTRICT biases,
                            uint32_t (*HWY_RESTRICT sums)[kBlockVectors]) {
  // 16 pairs (32 code bytes, 64 nibbles) per step: output qword i takes source
  // qword i / 2, and its byte k bits 4 (8 (i % 2) + k) on, so byte b of the
  // result holds nibble b (vpermb with the codebook ignores the bits above).
  struct Expand {
    alignas(64) uint8_t duplicate[64];
    alignas(64) uint8_t shifts[64];
    Expand() {
      for (size_t b = 0; b < 64; ++b) {
        duplicate[b] = static_cast<uint8_t>(8 * (b / 16) + b % 8);
        shifts[b] = static_cast<uint8_t>(32 * ((b / 8) % 2) + 4 * (b % 8));
      }
    }
  };
  static const Expand expand;
  const __m512i duplicate = _mm512_load_si512(expand.duplicate);
  const __m512i shifts = _mm512_load_si512(expand.shifts);
  const __m512i book = _mm512_load_si512(codebook);
  for (; rows != 0; rows &= rows - 1) {
    const size_t v = hwy::Num0BitsBelowLS1Bit_Nonzero32(rows);
    const uint8_t* HWY_RESTRICT at = block + 32 * (v / 16) + v % 16;
    __m512i acc[kQ];
    for (size_t q = 0; q < kQ; ++q) acc[q] = _mm512_setzero_si512();
    for (size_t p0 = 0; p0 < pairs; p0 += 16) {
      const size_t n = std::min<size_t>(16, pairs - p0);
      alignas(32) uint8_t code[32] = {};
      for (size_t i = 0; i < n; ++i) {
        code[2 * i] = at[64 * (p0 + i)];
        code[2 * i + 1] = at[64 * (p0 + i) + 16];
      }
      const __m256i bytes = _mm256_load_si256(reinterpret_cast<const __m256i*>(code));
      const __m512i nibbles = _mm512_multishift_epi64_epi8(
          shifts, _mm512_permutexvar_epi8(duplicate, _mm512_castsi256_si512(bytes)));
      const __m512i centroids = _mm512_permutexvar_epi8(nibbles, book);
      const __mmask64 dims = n == 16 ? ~__mmask64{0} : (__mmask64{1} << (4 * n)) - 1;
      for (size_t q = 0; q < kQ; ++q) {
        acc[q] = DotBytes(acc[q], centroids, _mm512_maskz_loadu_epi8(dims, queries[q] + 4 * p0));
      }
    }
    for (size_t q = 0; q < kQ; ++q) {
      sums[q][FloatPosition(v)] =
          static_cast<uint32_t>(_mm512_reduce_add_epi32(acc[q]) - biases[q]);
    }
  }
}
#else
constexpr bool kHaveInt8Dot = false;
#endif  // HWY_TARGET == HWY_AVX3_DL

#if TQ_SCAN_FLUSH_IN_REGISTERS
// AccumulateSection below for AVX-512, with named accumulators: with arrays
// of vectors GCC 12 copied every accumulator between registers on each update
// (37 register moves per 8-query iteration of ~90 useful instructions).
template <size_t kQ, bool kNarrow, bool kDense3>
HWY_INLINE void AccumulateSection512(const SectionCodes& codes,
                                     const uint8_t* const* HWY_RESTRICT tables, size_t pairs,
                                     uint32_t (*HWY_RESTRICT sums)[kBlockVectors]) {
  static_assert(kQ <= 8, "at most 8 queries per pass");
  const hn::Full512<uint8_t> d8;
  const hn::Full512<uint16_t> d16;
  const auto k0F = hn::Set(d8, 0x0F);
  for (size_t p0 = 0; p0 < pairs; p0 += kPairsPerFlush) {
    const size_t p1 = std::min(pairs, p0 + kPairsPerFlush);
    auto a0 = hn::Zero(d16), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    auto b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
#define TQ_SCAN_LOOKUP(q, p)                                                             \
  if constexpr (kQ > q) {                                                                \
    const uint8_t* HWY_RESTRICT t = tables[q] + 64 * (p);                                \
    const auto u_lo = hn::TableLookupBytes(LoadTables(d8, t), lo);                       \
    const auto u_hi = hn::TableLookupBytes(LoadTables(d8, t + 32), hi);                  \
    if constexpr (kNarrow) {                                                             \
      const auto r = hn::BitCast(d16, hn::Add(u_lo, u_hi));                              \
      a##q = hn::Add(a##q, r);                                                           \
      b##q = hn::Add(b##q, hn::ShiftRight<8>(r));                                        \
    } else {                                                                             \
      const auto r_lo = hn::BitCast(d16, u_lo);                                          \
      const auto r_hi = hn::BitCast(d16, u_hi);                                          \
      a##q = hn::Add(a##q, hn::Add(r_lo, r_hi));                                         \
      b##q = hn::Add(b##q, hn::Add(hn::ShiftRight<8>(r_lo), hn::ShiftRight<8>(r_hi)));   \
    }                                                                                    \
  }
  // Every query's lookups of one group pair `v` (its nibbles as they are).
#define TQ_SCAN_LOOKUP_PAIR(v, p)                                                          \
  {                                                                                        \
    const auto lo = hn::And(v, k0F);                                                       \
    const auto hi = hn::And(hn::BitCast(d8, hn::ShiftRight<4>(hn::BitCast(d16, v))), k0F); \
    TQ_SCAN_LOOKUP(0, p) TQ_SCAN_LOOKUP(1, p) TQ_SCAN_LOOKUP(2, p) TQ_SCAN_LOOKUP(3, p)    \
    TQ_SCAN_LOOKUP(4, p) TQ_SCAN_LOOKUP(5, p) TQ_SCAN_LOOKUP(6, p) TQ_SCAN_LOOKUP(7, p)    \
  }
    for (size_t p = p0; p < p1; p += kPairsPerStep<kDense3>) {
      if constexpr (kDense3) {
        const uint8_t* chunk_pair = codes.ChunkPair(p / 4);
        const auto n0 = hn::LoadU(d8, chunk_pair);
        const auto n1 = hn::LoadU(d8, chunk_pair + 64);
        const auto n2 = hn::LoadU(d8, chunk_pair + 128);
        const auto e3 = Dense3Spares(d8, n0, n1, n2);
        TQ_SCAN_LOOKUP_PAIR(n0, p)
        TQ_SCAN_LOOKUP_PAIR(n1, p + 1)
        TQ_SCAN_LOOKUP_PAIR(n2, p + 2)
        TQ_SCAN_LOOKUP_PAIR(e3, p + 3)
      } else {
        const auto v = hn::LoadU(d8, codes.GroupPair(p));
        TQ_SCAN_LOOKUP_PAIR(v, p)
      }
    }
#undef TQ_SCAN_LOOKUP_PAIR
#undef TQ_SCAN_LOOKUP
#define TQ_SCAN_FLUSH(q)                                               \
  if constexpr (kQ > q) {                                              \
    if (p0 == 0) {                                                     \
      FlushRegisters<true>(a##q, b##q, sums[q]);                       \
    } else {                                                           \
      FlushRegisters<false>(a##q, b##q, sums[q]);                      \
    }                                                                  \
  }
    TQ_SCAN_FLUSH(0) TQ_SCAN_FLUSH(1) TQ_SCAN_FLUSH(2) TQ_SCAN_FLUSH(3)
    TQ_SCAN_FLUSH(4) TQ_SCAN_FLUSH(5) TQ_SCAN_FLUSH(6) TQ_SCAN_FLUSH(7)
#undef TQ_SCAN_FLUSH
  }
}
#endif  // TQ_SCAN_FLUSH_IN_REGISTERS

// Every query's lookups of load i of group pair p (codes `v`) into the
// sub-accumulators that load belongs to.
template <size_t kQ, bool kNarrow, class V16>
HWY_INLINE void LookupLoad(hn::Vec<D8> v, const uint8_t* const* HWY_RESTRICT tables, size_t p,
                           size_t i, V16 (&acc_a)[kQ][kSubAccumulators],
                           V16 (&acc_b)[kQ][kSubAccumulators]) {
  const D8 d8;
  const hn::Repartition<uint16_t, D8> d16;
  const auto k0F = hn::Set(d8, 0x0F);
  const auto lo = hn::And(v, k0F);
  const auto hi = hn::And(hn::BitCast(d8, hn::ShiftRight<4>(hn::BitCast(d16, v))), k0F);
  const size_t s = i * kSubAccumulators / kLoadsPerPair;
  const size_t table_offset = kVecBytes == 16 ? (i % 2) * 16 : 0;
  for (size_t q = 0; q < kQ; ++q) {
    const uint8_t* HWY_RESTRICT t = tables[q] + 64 * p + table_offset;
    const auto u_lo = hn::TableLookupBytes(LoadTables(d8, t), lo);
    const auto u_hi = hn::TableLookupBytes(LoadTables(d8, t + 32), hi);
    if constexpr (kNarrow) {
      const auto r = hn::BitCast(d16, hn::Add(u_lo, u_hi));
      acc_a[q][s] = hn::Add(acc_a[q][s], r);
      acc_b[q][s] = hn::Add(acc_b[q][s], hn::ShiftRight<8>(r));
    } else {
      const auto r_lo = hn::BitCast(d16, u_lo);
      const auto r_hi = hn::BitCast(d16, u_hi);
      acc_a[q][s] = hn::Add(acc_a[q][s], hn::Add(r_lo, r_hi));
      acc_b[q][s] =
          hn::Add(acc_b[q][s], hn::Add(hn::ShiftRight<8>(r_lo), hn::ShiftRight<8>(r_hi)));
    }
  }
}

// Sums the u8 table entries of `pairs` group pairs of one block for kQ
// queries into sums[q][position]. kNarrow: entries are at most 127
// (kSignTableMax), so the two lookups of a byte are added in u8 first (which must hold zeros unless
// TQ_SCAN_FLUSH_IN_REGISTERS, where the first flush stores). kDense3: the
// codes are dense 3-bit chunk pairs (SectionCodes).
template <size_t kQ, bool kNarrow, bool kDense3>
HWY_INLINE void AccumulateSection(const SectionCodes& codes,
                                  const uint8_t* const* HWY_RESTRICT tables, size_t pairs,
                                  uint32_t (*HWY_RESTRICT sums)[kBlockVectors]) {
#if TQ_SCAN_FLUSH_IN_REGISTERS
  AccumulateSection512<kQ, kNarrow, kDense3>(codes, tables, pairs, sums);
  return;
#endif
  const D8 d8;
  const hn::Repartition<uint16_t, D8> d16;
  using V16 = hn::Vec<decltype(d16)>;
  for (size_t p0 = 0; p0 < pairs; p0 += kPairsPerFlush) {
    const size_t p1 = std::min(pairs, p0 + kPairsPerFlush);
    V16 acc_a[kQ][kSubAccumulators];
    V16 acc_b[kQ][kSubAccumulators];
    for (size_t q = 0; q < kQ; ++q) {
      for (size_t s = 0; s < kSubAccumulators; ++s) {
        acc_a[q][s] = hn::Zero(d16);
        acc_b[q][s] = hn::Zero(d16);
      }
    }
    for (size_t p = p0; p < p1; p += kPairsPerStep<kDense3>) {
      for (size_t i = 0; i < kLoadsPerPair; ++i) {
        if constexpr (kDense3) {
          const uint8_t* at = codes.ChunkPair(p / 4) + i * kVecBytes;
          const auto n0 = hn::LoadU(d8, at);
          const auto n1 = hn::LoadU(d8, at + 64);
          const auto n2 = hn::LoadU(d8, at + 128);
          LookupLoad<kQ, kNarrow>(n0, tables, p, i, acc_a, acc_b);
          LookupLoad<kQ, kNarrow>(n1, tables, p + 1, i, acc_a, acc_b);
          LookupLoad<kQ, kNarrow>(n2, tables, p + 2, i, acc_a, acc_b);
          LookupLoad<kQ, kNarrow>(Dense3Spares(d8, n0, n1, n2), tables, p + 3, i, acc_a, acc_b);
        } else {
          const auto v = hn::LoadU(d8, codes.GroupPair(p) + i * kVecBytes);
          LookupLoad<kQ, kNarrow>(v, tables, p, i, acc_a, acc_b);
        }
      }
    }
#if !TQ_SCAN_FLUSH_IN_REGISTERS
    constexpr size_t kLanes16 = kVecBytes / 2;
    HWY_ALIGN uint16_t a[kSubAccumulators * kLanes16];
    HWY_ALIGN uint16_t b[kSubAccumulators * kLanes16];
    for (size_t q = 0; q < kQ; ++q) {
      for (size_t s = 0; s < kSubAccumulators; ++s) {
        hn::Store(acc_a[q][s], d16, a + s * kLanes16);
        hn::Store(acc_b[q][s], d16, b + s * kLanes16);
      }
      FlushToU32<kSubAccumulators * kVecBytes / 16>(a, b, sums[q]);
    }
#endif
  }
}

// Bit p set when the row at float position p of a block (FloatPosition) is
// allowed: the even rows of `row_bits` move to bits 0..15, the odd ones to 16..31.
inline uint32_t PositionBits(uint32_t row_bits) {
  const auto even_bits = [](uint32_t x) {
    x &= 0x55555555u;
    x = (x | x >> 1) & 0x33333333u;
    x = (x | x >> 2) & 0x0F0F0F0Fu;
    x = (x | x >> 4) & 0x00FF00FFu;
    return (x | x >> 8) & 0x0000FFFFu;
  };
  return even_bits(row_bits) | even_bits(row_bits >> 1) << 16;
}

// Whether the scores read the per-vector norms: an MSE-only inner product
// needs the scalars alone.
inline bool ScoresUseNorms(const ScanLayout::Data& layout, ScanObjective objective) {
  return layout.shape.signs || objective == ScanObjective::kNegativeL2Partial;
}

// Float scores of one block for one query; offers those of the rows in
// `positions` (PositionBits) above the threshold. Lanes without such a row
// are not scored, so that a filtered scan reads only the float lines of its
// allowed rows (FilteredPrefetcher fetches no others).
HWY_INLINE void OfferBlock(const ScanLayout::Data& layout, ScanObjective objective,
                           const QueryScale& scale, bool int8_mse,
                           const uint32_t* HWY_RESTRICT mse_sums,
                           const uint32_t* HWY_RESTRICT sign_sums, size_t b, uint32_t positions,
                           TopCandidates& top) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::RebindToUnsigned<decltype(df)> du;
  constexpr size_t kLanes = hn::MaxLanes(df);
  static_assert(kLanes <= 16, "mask bits are read as two bytes");
  constexpr uint32_t kLaneBits = (uint32_t{1} << kLanes) - 1;
  const size_t base = b * kBlockVectors;
  const float* HWY_RESTRICT norms = layout.norms + base;
  const float* HWY_RESTRICT scalars = layout.scalars + base;
  const auto threshold = hn::Set(df, top.threshold());
  const auto mse_delta = hn::Set(df, int8_mse ? scale.int8_delta : scale.mse_delta);
  const auto mse_offset = hn::Set(df, int8_mse ? 0.0f : scale.mse_offset);
  const auto sign_delta = hn::Set(df, scale.sign_delta);
  const auto sign_offset = hn::Set(df, scale.sign_offset);
  const bool signs = layout.shape.signs;
  for (size_t p = 0; p < kBlockVectors; p += kLanes) {
    const uint32_t lanes = (positions >> p) & kLaneBits;
    if (lanes == 0) continue;
    const auto sum = hn::ConvertTo(df, hn::BitCast(di, hn::Load(du, mse_sums + p)));
    auto ip = hn::Add(hn::Mul(sum, mse_delta), mse_offset);
    const auto scalar = hn::LoadU(df, scalars + p);
    if (signs) {
      const auto sign_sum = hn::ConvertTo(df, hn::BitCast(di, hn::Load(du, sign_sums + p)));
      const auto qjl = hn::Add(hn::Mul(sign_sum, sign_delta), sign_offset);
      ip = hn::Mul(hn::LoadU(df, norms + p), hn::Add(ip, hn::Mul(scalar, qjl)));
    } else {
      ip = hn::Mul(ip, scalar);
    }
    if (objective == ScanObjective::kNegativeL2Partial) {
      const auto norm = hn::LoadU(df, norms + p);
      ip = hn::Sub(hn::Add(ip, ip), hn::Mul(norm, norm));
    }
    uint8_t above_bytes[8] = {};
    hn::StoreMaskBits(df, hn::Gt(ip, threshold), above_bytes);
    uint32_t above = lanes & (above_bytes[0] | uint32_t{above_bytes[1]} << 8);
    if (above == 0) continue;
    HWY_ALIGN float scores[kLanes];
    hn::Store(ip, df, scores);
    for (; above != 0; above &= above - 1) {
      const size_t lane = hwy::Num0BitsBelowLS1Bit_Nonzero32(above);
      if (scores[lane] > top.threshold()) {
        top.Push(scores[lane], static_cast<uint32_t>(base + VectorAtPosition(p + lane)));
      }
    }
  }
}

// Prefetches into L2 (prefetcht1: on Zen 4 a filtered scan took 1.4-1.7x as
// long with prefetcht0 or prefetchnta) the code block b and the float lines of the
// rows in `positions` (PositionBits): with a sparse allow list a block mostly
// holds one such row, whose norm and scalar lie in one half of the block's
// floats. The floats are prefetched at both ends of that half, which spans
// two lines where the arrays are not line aligned (in-memory segments).
HWY_INLINE void PrefetchBlock(const ScanLayout::Data& layout, size_t b, uint32_t positions,
                              bool norms) {
  constexpr size_t kLine = 64;
  const char* codes = reinterpret_cast<const char*>(layout.block(b));
  for (size_t at = 0; at < layout.shape.block_bytes; at += kLine) {
    __builtin_prefetch(codes + at, /*rw=*/0, /*locality=*/2);
  }
  for (size_t half = 0; half < 2; ++half) {
    if (((positions >> (16 * half)) & 0xFFFFu) == 0) continue;
    const size_t first = b * kBlockVectors + 16 * half;
    __builtin_prefetch(layout.scalars + first, 0, 2);
    __builtin_prefetch(layout.scalars + first + 15, 0, 2);
    if (norms) {
      __builtin_prefetch(layout.norms + first, 0, 2);
      __builtin_prefetch(layout.norms + first + 15, 0, 2);
    }
  }
}

// Keeps the next kAhead blocks that hold an allowed row prefetched while a
// filtered scan works on the current one. Such blocks lie far apart (a 1%
// allow list leaves ~27% of the blocks, mostly isolated), which the hardware
// prefetcher does not follow, so without this each block is a fresh wait on
// memory; a rolling distance overlaps that wait with the scoring of the
// blocks before it (a burst of prefetches for a whole window stalls on the
// miss queue instead). Distances of 8 to 32 blocks measured the same.
class FilteredPrefetcher {
 public:
  FilteredPrefetcher(const ScanLayout::Data& layout, ScanObjective objective,
                     RowMask allowed, size_t begin, size_t end)
      : layout_(layout),
        norms_(ScoresUseNorms(layout, objective)),
        allowed_(allowed),
        next_(begin),
        end_(end) {
    if (!allowed_.all()) Refill();
  }
  // Called for every block the scan scores.
  void Scored() {
    if (allowed_.all()) return;
    --in_flight_;
    Refill();
  }

 private:
  static constexpr size_t kAhead = 16;
  void Refill() {
    for (; next_ < end_ && in_flight_ < kAhead; ++next_) {
      const uint32_t rows = allowed_.Block(next_) & BlockValidBits(layout_.size, next_);
      if (rows == 0) continue;
      PrefetchBlock(layout_, next_, PositionBits(rows), norms_);
      ++in_flight_;
    }
  }
  const ScanLayout::Data& layout_;
  const bool norms_;  // the scores read the norms (ScoresUseNorms)
  RowMask allowed_;
  size_t next_, end_;
  size_t in_flight_ = 0;
};

template <size_t kQ>
void ScanTile(const ScanLayout::Data& layout, const QueryTables::Data& tables, size_t block_begin,
              size_t block_end, size_t q0, RowMask allowed, TopCandidates* top) {
  const CodeShape& s = layout.shape;
  const uint8_t* mse_tables[kQ];
  const uint8_t* sign_tables[kQ];
  const int8_t* int8_queries[kQ];
  int32_t int8_biases[kQ];
  const bool int8_mse = kHaveInt8Dot && tables.int8_mse && CpuHasVnniVbmi();
  for (size_t q = 0; q < kQ; ++q) {
    mse_tables[q] = tables.tables_of(q0 + q);
    sign_tables[q] = mse_tables[q] + s.mse.groups * kBlockVectors;
    int8_queries[q] = int8_mse ? tables.int8_query_of(q0 + q) : nullptr;
    int8_biases[q] = tables.scales[q0 + q].int8_bias;
  }
  (void)int8_queries;
  (void)int8_biases;
  BlockSums<kQ> sums;
  HWY_ALIGN uint8_t partial_pair[Dense3Shape::kPairBytes];
  FilteredPrefetcher prefetcher(layout, tables.objective, allowed, block_begin, block_end);
  for (size_t b = block_begin; b < block_end; ++b) {
    const uint32_t row_bits = allowed.Block(b) & BlockValidBits(layout.size, b);
    if (row_bits == 0) continue;
    prefetcher.Scored();
    const uint8_t* block = layout.block(b);
    SectionCodes mse_codes{block};
    if (s.dense3) {
      mse_codes.whole_pairs = s.dense.whole_pairs;
      if (s.dense.has_partial_pair()) {
        FillPartialDense3Pair(s.dense, block, partial_pair);
        mse_codes.partial_pair = partial_pair;
      }
    }
    const size_t mse_pairs = s.mse.groups / 2;
#if HWY_TARGET == HWY_AVX3_DL
    if (int8_mse) {
      const uint8_t* codebook = tables.int8_codebook.biased;
      if (!s.dense3 && hwy::PopCount(row_bits) <= kMaxRowsOneByOne) {
        RowsMseInt8<kQ>(block, row_bits, mse_pairs, int8_queries, codebook, int8_biases, sums.mse);
      } else if (s.dense3) {
        AccumulateMseInt8<kQ, true>(mse_codes, int8_queries, mse_pairs, codebook, int8_biases,
                                    sums.mse);
      } else {
        AccumulateMseInt8<kQ, false>(mse_codes, int8_queries, mse_pairs, codebook, int8_biases,
                                     sums.mse);
      }
    } else
#endif
    {
      if (!TQ_SCAN_FLUSH_IN_REGISTERS) std::memset(sums.mse, 0, sizeof(sums.mse));
      if (s.dense3) {
        AccumulateSection<kQ, /*kNarrow=*/false, true>(mse_codes, mse_tables, mse_pairs, sums.mse);
      } else {
        AccumulateSection<kQ, /*kNarrow=*/false, false>(mse_codes, mse_tables, mse_pairs,
                                                        sums.mse);
      }
    }
    if (s.signs) {
      if (!TQ_SCAN_FLUSH_IN_REGISTERS) std::memset(sums.sign, 0, sizeof(sums.sign));
      AccumulateSection<kQ, /*kNarrow=*/true, false>(SectionCodes{block + s.mse.block_bytes},
                                                     sign_tables, s.sign.groups / 2, sums.sign);
    }
    const uint32_t positions = PositionBits(row_bits);
    for (size_t q = 0; q < kQ; ++q) {
      OfferBlock(layout, tables.objective, tables.scales[q0 + q], int8_mse, sums.mse[q],
                 sums.sign[q], b, positions, top[q0 + q]);
    }
  }
}

void ScanBlocksLut(const ScanLayout::Data& layout, const QueryTables::Data& tables,
                   size_t block_begin, size_t block_end, RowMask allowed, size_t keep,
                   std::vector<Candidate>* best) {
  const size_t num_queries = tables.num_queries;
  std::vector<TopCandidates> top;
  top.reserve(num_queries);
  for (size_t q = 0; q < num_queries; ++q) top.emplace_back(&best[q], keep);
  // Blocks per tile: about 256 KiB of codes, which stay in L2 while every
  // query group passes over them.
  constexpr size_t kTileBytes = 256 << 10;
  const size_t tile = num_queries <= kQueriesPerPass
                          ? block_end - block_begin
                          : std::max<size_t>(1, kTileBytes / layout.shape.block_bytes);
  for (size_t t0 = block_begin; t0 < block_end; t0 += tile) {
    const size_t t1 = std::min(block_end, t0 + tile);
    size_t q = 0;
    for (; q + kQueriesPerPass <= num_queries; q += kQueriesPerPass) {
      ScanTile<kQueriesPerPass>(layout, tables, t0, t1, q, allowed, top.data());
    }
    if (kQueriesPerPass > 4 && q + 4 <= num_queries) {
      ScanTile<4>(layout, tables, t0, t1, q, allowed, top.data());
      q += 4;
    }
    if (kQueriesPerPass > 2 && q + 2 <= num_queries) {
      ScanTile<2>(layout, tables, t0, t1, q, allowed, top.data());
      q += 2;
    }
    for (; q < num_queries; ++q) ScanTile<1>(layout, tables, t0, t1, q, allowed, top.data());
  }
}

#endif  // HWY_TARGET == HWY_SCALAR

bool UsesInt8Dot() {
#if HWY_TARGET == HWY_AVX3_DL
  return true;
#else
  return false;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
#if HWY_TARGET == HWY_AVX3_DL && HWY_COMPILER_CLANG
#pragma clang attribute pop
#endif
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace turboquant::internal {

HWY_EXPORT(ScanBlocksLut);
HWY_EXPORT(UsesInt8Dot);

bool ScanPrefersInt8Dot() { return HWY_DYNAMIC_DISPATCH(UsesInt8Dot)() && CpuHasVnniVbmi(); }

bool ScanUsesInt8Dot(const QueryTables& tables) {
  return tables.data().int8_mse && ScanPrefersInt8Dot();
}

void ScanForCandidates(const ScanLayout& layout, const QueryTables& tables, size_t block_begin,
                       size_t block_end, RowMask allowed, size_t keep,
                       std::vector<std::vector<Candidate>>* best) {
  const ScanLayout::Data& l = layout.data();
  const QueryTables::Data& t = tables.data();
  if (best->size() < t.num_queries) best->resize(t.num_queries);
  block_end = std::min(block_end, l.num_blocks);
  if (block_begin >= block_end || t.num_queries == 0) {
    for (size_t q = 0; q < t.num_queries; ++q) TopCandidates trim(&(*best)[q], keep);
    return;
  }
  if (l.shape.lookup_tables) {
    HWY_DYNAMIC_DISPATCH(ScanBlocksLut)(l, t, block_begin, block_end, allowed, keep, best->data());
  } else {
    ScanBlocksGeneric(l, t, block_begin, block_end, allowed, keep, best->data());
  }
}

}  // namespace turboquant::internal
#endif  // HWY_ONCE
