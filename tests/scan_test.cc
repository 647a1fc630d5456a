// Tests of the scan layout and kernels (src/scan): exact code round trips,
// the SIMD scan against the float reference on every compiled Highway target,
// the allowed bitmap, both objectives, the error of the u8 tables, and the
// size and recall of dense 3-bit codes.
#include "src/scan/scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "src/scan/mse_estimate.h"
#include "src/scan/query_tables.h"
#include "src/scan/scan_kernels.h"
#include "src/scan/scan_layout.h"
#include "tests/test_util.h"
#include "turboquant/codec.h"
#include "turboquant/io.h"

namespace turboquant::internal {
namespace {

using testing::GaussianVectors;

std::unique_ptr<Codec> MakeCodec(CodecKind kind, int dim, int bits) {
  CodecOptions options;
  options.dim = dim;
  options.bits = bits;
  auto codec = Codec::Create(kind, options);
  EXPECT_TRUE(codec.ok()) << codec.status();
  return std::move(*codec);
}

// Gaussian vectors with norms spread over [0.5, 2] so that norms matter.
std::vector<float> Data(int n, int dim, uint64_t seed) {
  std::vector<float> x = GaussianVectors(n, dim, seed);
  for (int i = 0; i < n; ++i) {
    const float f = (0.5f + 1.5f * float((i * 7919) % 101) / 100.0f) / std::sqrt(float(dim));
    for (int j = 0; j < dim; ++j) x[size_t(i) * dim + j] *= f;
  }
  return x;
}

std::vector<uint8_t> Encode(const Codec& codec, const std::vector<float>& x) {
  std::vector<uint8_t> codes(x.size() / codec.dim() * codec.code_size());
  EXPECT_TRUE(codec.Encode(x, absl::MakeSpan(codes)).ok());
  return codes;
}

std::string Name(const Codec& codec) {
  return std::string(CodecKindName(codec.kind())) + " d=" + std::to_string(codec.dim()) +
         " b=" + std::to_string(codec.bits());
}

std::vector<int64_t> Targets() { return hwy::SupportedAndGeneratedTargets(); }

// Sorted rows of the exact top-`k` after re-scoring candidates with the
// codec's float estimator.
std::vector<uint32_t> RescoredTop(const Codec& codec, const ScanLayout& layout, const float* query,
                                  ScanObjective objective, const std::vector<Candidate>& cands,
                                  size_t k) {
  Codec::PreparedQuery prepared;
  codec.PrepareQuery(query, &prepared);
  std::vector<uint8_t> code(codec.code_size());
  std::vector<std::pair<float, uint32_t>> scored;
  for (const Candidate& c : cands) {
    layout.ExtractCode(c.row, code.data());
    const float ip = codec.EstimateInnerProduct(prepared, code.data());
    scored.push_back({-ObjectiveScore(objective, ip, codec.StoredNorm(code.data())), c.row});
  }
  std::sort(scored.begin(), scored.end());
  std::vector<uint32_t> rows;
  for (size_t i = 0; i < std::min(k, scored.size()); ++i) rows.push_back(scored[i].second);
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<uint32_t> TopRows(std::vector<Candidate> cands, size_t k) {
  std::sort(cands.begin(), cands.end(),
            [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<uint32_t> rows;
  for (size_t i = 0; i < std::min(k, cands.size()); ++i) rows.push_back(cands[i].row);
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(ScanLayoutTest, ExtractCodeReturnsTheAppendedCode) {
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    // 3-bit chunks of 8 dims: every last-chunk size, and partial chunk pairs
    // of one short chunk (33), one whole chunk (24) and both (44).
    for (int dim : {2, 5, 13, 24, 33, 44, 100, 128, 768}) {
      for (int bits = kind == CodecKind::kMse ? 1 : 2; bits <= 8; ++bits) {
        auto codec = MakeCodec(kind, dim, bits);
        SCOPED_TRACE(Name(*codec));
        const int n = 77;
        const std::vector<uint8_t> codes = Encode(*codec, Data(n, dim, 11 + bits));
        ScanLayout layout(*codec);
        // Uneven appends: a partial block is continued by the next call.
        layout.Append(codes.data(), 5);
        layout.Append(codes.data() + 5 * codec->code_size(), 40);
        layout.Append(codes.data() + 45 * codec->code_size(), n - 45);
        ASSERT_EQ(layout.size(), size_t(n));
        ASSERT_EQ(layout.num_blocks(), size_t(3));
        EXPECT_GE(layout.memory_bytes(), size_t(n) * (codec->code_size() - 8));
        EXPECT_EQ(layout.uses_lookup_tables(), (kind == CodecKind::kMse ? bits : bits - 1) <= 4);
        std::vector<uint8_t> code(codec->code_size());
        for (int row = 0; row < n; ++row) {
          layout.ExtractCode(row, code.data());
          ASSERT_EQ(0, std::memcmp(code.data(), codes.data() + row * codec->code_size(),
                                   codec->code_size()))
              << "row " << row;
        }
      }
    }
  }
}

// Row runs copied from another layout (whole blocks where both sides are
// block-aligned, flat codes elsewhere) hold exactly the codes of those rows.
TEST(ScanLayoutTest, AppendRowsCopiesTheRunsOfAnotherLayout) {
  struct Run {
    size_t first, count;
  };
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    for (int bits : {2, 3, 4, 8}) {
      auto codec = MakeCodec(kind, 100, bits);
      SCOPED_TRACE(Name(*codec));
      const size_t n = 200;
      const std::vector<uint8_t> codes = Encode(*codec, Data(n, 100, 29 + bits));
      ScanLayout from(*codec);
      from.Append(codes.data(), n);
      // Aligned whole blocks with a tail, an unaligned run, then aligned
      // source rows appended at an unaligned destination.
      const std::vector<Run> runs = {{0, 70}, {71, 9}, {96, 64}, {161, 39}};
      ScanLayout to(*codec);
      std::vector<size_t> rows;
      for (const Run& run : runs) {
        to.AppendRows(from, run.first, run.count);
        for (size_t row = run.first; row < run.first + run.count; ++row) rows.push_back(row);
      }
      ASSERT_EQ(to.size(), rows.size());
      std::vector<uint8_t> code(codec->code_size());
      for (size_t i = 0; i < rows.size(); ++i) {
        to.ExtractCode(i, code.data());
        ASSERT_EQ(0, std::memcmp(code.data(), codes.data() + rows[i] * codec->code_size(),
                                 codec->code_size()))
            << "row " << i << " (source row " << rows[i] << ")";
      }
    }
  }
}

size_t Dense3Bytes(int dim) { return (3 * size_t(dim) + 7) / 8; }

// 3-bit indices take 3 bits per coordinate in blocks: ceil(3 d / 8) bytes of
// codes per vector plus its two floats, for every remainder of d modulo 8.
TEST(ScanLayoutTest, Dense3BitCodesTakeThreeBitsPerCoordinate) {
  constexpr size_t kFloats = 2 * sizeof(float);
  for (int dim : {8, 9, 10, 11, 12, 13, 14, 15, 33, 44, 100, 101, 128, 300, 768, 1000}) {
    SCOPED_TRACE("d=" + std::to_string(dim));
    auto mse = MakeCodec(CodecKind::kMse, dim, 3);
    const std::vector<uint8_t> codes = Encode(*mse, Data(40, dim, 1));
    ScanLayout layout(*mse);
    layout.Append(codes.data(), 40);
    EXPECT_EQ(layout.block_bytes(), kBlockVectors * Dense3Bytes(dim));
    EXPECT_EQ(layout.block_data().size(), 2 * kBlockVectors * Dense3Bytes(dim));
    EXPECT_EQ(layout.bytes_per_vector(), Dense3Bytes(dim) + kFloats);
    EXPECT_EQ(layout.bytes_per_vector(), mse->code_size());  // the codec's packed code
    EXPECT_EQ(layout.scan_bytes(), 2 * kBlockVectors * layout.bytes_per_vector());
    // prod 4 bits: the same 3-bit MSE part, then sign bytes (an even count).
    auto prod = MakeCodec(CodecKind::kProd, dim, 4);
    const size_t sign_bytes = ((size_t(dim) + 7) / 8 + 1) / 2 * 2;
    EXPECT_EQ(ScanLayout(*prod).bytes_per_vector(), Dense3Bytes(dim) + sign_bytes + kFloats);
    if (dim >= 8) {
      EXPECT_LT(layout.bytes_per_vector(),
                ScanLayout(*MakeCodec(CodecKind::kMse, dim, 4)).bytes_per_vector());
    }
  }
}

TEST(ScanLayoutTest, MoveKeepsContents) {
  auto codec = MakeCodec(CodecKind::kMse, 64, 4);
  const std::vector<uint8_t> codes = Encode(*codec, Data(40, 64, 3));
  ScanLayout a(*codec);
  a.Append(codes.data(), 40);
  ScanLayout b(std::move(a));
  std::vector<uint8_t> code(codec->code_size());
  b.ExtractCode(39, code.data());
  EXPECT_EQ(0, std::memcmp(code.data(), codes.data() + 39 * codec->code_size(), code.size()));
}

// View (over another layout's storage, as a segment file holds it) and
// Clone give the same codes and scan results; Append on a view copies first.
TEST(ScanLayoutTest, ViewAndCloneMatchTheOriginal) {
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    auto codec = MakeCodec(kind, 100, 4);
    const int n = 70;
    const std::vector<uint8_t> codes = Encode(*codec, Data(n, 100, 4));
    ScanLayout layout(*codec);
    layout.Append(codes.data(), 60);
    ASSERT_EQ(layout.block_data().size(), layout.num_blocks() * layout.block_bytes());
    ASSERT_EQ(layout.norm_data().size(), layout.num_blocks() * kBlockVectors);
    // Copies with a deliberately unaligned block pointer.
    std::vector<uint8_t> blocks(layout.block_data().size() + 1);
    std::memcpy(blocks.data() + 1, layout.block_data().data(), layout.block_data().size());
    const std::vector<float> norms(layout.norm_data().begin(), layout.norm_data().end());
    const std::vector<float> scalars(layout.scalar_data().begin(), layout.scalar_data().end());
    ScanLayout view = ScanLayout::View(*codec, 60, blocks.data() + 1, norms.data(), scalars.data());
    ScanLayout clone = layout.Clone();
    const std::vector<float> queries = GaussianVectors(3, 100, 1);
    const QueryTables tables(*codec, queries.data(), 3, ScanObjective::kInnerProduct);
    std::vector<std::vector<Candidate>> a, b, c;
    ScanForCandidates(layout, tables, 0, layout.num_blocks(), RowMask(), 10, &a);
    ScanForCandidates(view, tables, 0, view.num_blocks(), RowMask(), 10, &b);
    ScanForCandidates(clone, tables, 0, clone.num_blocks(), RowMask(), 10, &c);
    for (size_t q = 0; q < 3; ++q) {
      EXPECT_EQ(TopRows(a[q], 10), TopRows(b[q], 10));
      EXPECT_EQ(TopRows(a[q], 10), TopRows(c[q], 10));
    }
    view.Append(codes.data() + 60 * codec->code_size(), n - 60);
    clone.Append(codes.data() + 60 * codec->code_size(), n - 60);
    std::vector<uint8_t> code(codec->code_size());
    for (int row = 0; row < n; ++row) {
      for (const ScanLayout* l : {&view, &clone}) {
        l->ExtractCode(row, code.data());
        ASSERT_EQ(0, std::memcmp(code.data(), codes.data() + row * codec->code_size(), code.size()));
      }
    }
    EXPECT_EQ(layout.size(), 60u);  // the original is untouched
  }
}

struct Case {
  CodecKind kind;
  int dim;
  int bits;
};

std::vector<Case> ScanCases() {
  return {{CodecKind::kMse, 128, 4},  {CodecKind::kMse, 128, 3},  {CodecKind::kMse, 100, 2},
          {CodecKind::kMse, 100, 1},  {CodecKind::kMse, 96, 6},   {CodecKind::kProd, 128, 4},
          {CodecKind::kProd, 100, 3}, {CodecKind::kProd, 128, 2}, {CodecKind::kProd, 100, 5},
          {CodecKind::kProd, 64, 7},  {CodecKind::kMse, 768, 4},  {CodecKind::kProd, 768, 4},
          {CodecKind::kMse, 100, 5},  {CodecKind::kMse, 64, 8},   {CodecKind::kProd, 100, 6},
          {CodecKind::kProd, 64, 8},
          // Dense 3-bit: a partial chunk pair of a short chunk (100, 13, 33),
          // of a whole and a short chunk (44), many flushes (768).
          {CodecKind::kMse, 100, 3},  {CodecKind::kMse, 44, 3},   {CodecKind::kMse, 13, 3},
          {CodecKind::kProd, 33, 4},  {CodecKind::kMse, 768, 3},  {CodecKind::kProd, 44, 4}};
}

// The SIMD scan keeps every row of the float reference's top 10 among its
// `keep` candidates, and re-scoring them exactly gives the reference top 10;
// on every Highway target compiled for this CPU, for both objectives, with
// and without a bitmap, and for batches that use every query-group size.
TEST(ScanTest, MatchesReferenceOnEveryTarget) {
  const int n = 2011;  // not a multiple of 32
  const size_t num_queries = 11, keep = 60, k = 10;
  for (const Case& c : ScanCases()) {
    auto codec = MakeCodec(c.kind, c.dim, c.bits);
    const std::vector<uint8_t> codes = Encode(*codec, Data(n, c.dim, 100 + c.bits));
    ScanLayout layout(*codec);
    layout.Append(codes.data(), n);
    const std::vector<float> queries = GaussianVectors(num_queries, c.dim, 7);
    // About 30% of the rows, and 3 rows in every block (blocks with so few
    // allowed rows are scored one row at a time on AVX-512 VNNI).
    RowBitmap allowed = RowBitmap::AllClear(n), sparse = RowBitmap::AllClear(n);
    for (int r = 0; r < n; ++r) {
      if ((r * 2654435761u) % 10 < 3) allowed.Set(r);
      if (r % 32 == 1 || r % 32 == 17 || r % 32 == 30) sparse.Set(r);
    }
    for (ScanObjective objective :
         {ScanObjective::kInnerProduct, ScanObjective::kNegativeL2Partial}) {
      for (const RowMask bitmap : {RowMask(), allowed.mask(), sparse.mask()}) {
        std::vector<std::vector<Candidate>> reference;
        ScanForCandidatesReference(layout, *codec, queries.data(), num_queries, objective, bitmap,
                                   k, &reference);
        const QueryTables tables(*codec, queries.data(), num_queries, objective, TableForms::kAll);
        for (int64_t target : Targets()) {
          hwy::SetSupportedTargetsForTest(target);
          SCOPED_TRACE(Name(*codec) + " target=" + hwy::TargetName(target) + " objective=" +
                       std::to_string(int(objective)) + (bitmap.all() ? "" : " bitmap"));
          std::vector<std::vector<Candidate>> best;
          ScanForCandidates(layout, tables, 0, layout.num_blocks(), bitmap, keep, &best);
          ASSERT_EQ(best.size(), num_queries);
          for (size_t q = 0; q < num_queries; ++q) {
            ASSERT_EQ(best[q].size(), keep);
            std::set<uint32_t> rows;
            for (const Candidate& cand : best[q]) {
              ASSERT_LT(cand.row, uint32_t(n));
              ASSERT_TRUE(rows.insert(cand.row).second) << "duplicate row " << cand.row;
              ASSERT_TRUE(bitmap.Row(cand.row));
            }
            for (const Candidate& ref : reference[q]) {
              EXPECT_TRUE(rows.count(ref.row)) << "query " << q << " lost row " << ref.row;
            }
            EXPECT_EQ(RescoredTop(*codec, layout, queries.data() + q * c.dim, objective, best[q], k),
                      TopRows(reference[q], k))
                << "query " << q;
          }
        }
        hwy::SetSupportedTargetsForTest(0);
      }
    }
  }
}

// Every target computes bit-identical approximate scores, equal to the
// scalar statement of its kernel (u8 tables, or int8 dot products for the MSE
// section on AVX-512 VNNI), and they are within the rounding bound of the
// quantized tables/queries from the exact float estimate.
TEST(ScanTest, ApproximateScoresAreBoundedAndIdenticalToScalarStatement) {
  const int n = 300;
  const size_t num_queries = 3;
  for (const Case& c : ScanCases()) {
    auto codec = MakeCodec(c.kind, c.dim, c.bits);
    SCOPED_TRACE(Name(*codec));
    const std::vector<uint8_t> codes = Encode(*codec, Data(n, c.dim, 200 + c.bits));
    ScanLayout layout(*codec);
    layout.Append(codes.data(), n);
    if (!layout.uses_lookup_tables()) continue;
    const std::vector<float> queries = GaussianVectors(num_queries, c.dim, 9);
    for (ScanObjective objective :
         {ScanObjective::kInnerProduct, ScanObjective::kNegativeL2Partial}) {
      const QueryTables tables(*codec, queries.data(), num_queries, objective, TableForms::kAll);
      // expected[int8][q][row]
      std::vector<std::map<uint32_t, float>> expected[2];
      for (int int8 = 0; int8 < 2; ++int8) {
        if (int8 && !tables.data().int8_codebook.available) continue;
        std::vector<std::vector<Candidate>> scalar(num_queries);
        ScanBlocksLutScalar(layout.data(), tables.data(), 0, layout.num_blocks(), RowMask(), n,
                            scalar.data(), int8 == 1);
        expected[int8].resize(num_queries);
        for (size_t q = 0; q < num_queries; ++q) {
          ASSERT_EQ(scalar[q].size(), size_t(n));
          for (const Candidate& cand : scalar[q]) expected[int8][q][cand.row] = cand.score;
        }
      }
      for (int64_t target : Targets()) {
        hwy::SetSupportedTargetsForTest(target);
        SCOPED_TRACE(hwy::TargetName(target));
        const int int8 = ScanUsesInt8Dot(tables) ? 1 : 0;
        // The AVX-512 VNNI target takes the int8 path for 3/4-bit indices.
        EXPECT_EQ(int8 == 1, target == HWY_AVX3_DL && tables.data().int8_codebook.available);
        std::vector<std::vector<Candidate>> best;
        ScanForCandidates(layout, tables, 0, layout.num_blocks(), RowMask(), n, &best);
        for (size_t q = 0; q < num_queries; ++q) {
          ASSERT_EQ(best[q].size(), size_t(n));
          for (const Candidate& cand : best[q]) {
            ASSERT_EQ(cand.score, expected[int8][q][cand.row]) << "row " << cand.row;
          }
        }
      }
      hwy::SetSupportedTargetsForTest(0);

      const CodeShape& shape = layout.data().shape;
      std::vector<uint8_t> code(codec->code_size());
      for (int int8 = 0; int8 < 2; ++int8) {
        if (expected[int8].empty()) continue;
        SCOPED_TRACE(int8 ? "int8 dot" : "u8 tables");
        for (size_t q = 0; q < num_queries; ++q) {
          const QueryScale& s = tables.data().scales[q];
          Codec::PreparedQuery prepared;
          codec->PrepareQuery(queries.data() + q * c.dim, &prepared);
          double sum_sq_error = 0, sum_sq_score = 0;
          for (int row = 0; row < n; ++row) {
            layout.ExtractCode(row, code.data());
            const float norm = codec->StoredNorm(code.data());
            float scalar_value;
            std::memcpy(&scalar_value, code.data() + codec->code_size() - 4, 4);
            const double ip = codec->EstimateInnerProduct(prepared, code.data());
            const double exact = ObjectiveScore(objective, float(ip), norm);
            // u8 tables: each nibble's entry is off by at most delta / 2.
            // int8: each dim's product is off by at most 127 * int8_delta
            // (half a step of the query times the largest centroid, plus half
            // a step of the codebook times the largest query component).
            const double mse_bound = int8 ? 2.0 * shape.mse.groups * 127 * s.int8_delta
                                           : 2.0 * shape.mse.groups * s.mse_delta / 2;
            const double sign_bound = 2.0 * shape.sign.groups * std::fabs(s.sign_delta) / 2;
            double bound = c.kind == CodecKind::kMse
                               ? mse_bound * std::fabs(scalar_value)
                               : norm * (mse_bound + std::fabs(scalar_value) * sign_bound);
            if (objective == ScanObjective::kNegativeL2Partial) bound *= 2;
            bound += 1e-4 * (1 + std::fabs(exact));
            const double approx = expected[int8][q][row];
            ASSERT_NEAR(approx, exact, bound) << "query " << q << " row " << row;
            sum_sq_error += (approx - exact) * (approx - exact);
            sum_sq_score += exact * exact;
          }
          // Typically far inside the worst case: RMS error below 5% of RMS score.
          EXPECT_LT(std::sqrt(sum_sq_error / n), 0.05 * std::sqrt(sum_sq_score / n));
        }
      }
    }
  }
}

// Tables of only the scanned form (what searches build) hold the u8 MSE
// tables or the int8 query, not both, and score exactly as tables of both forms.
TEST(ScanTest, ScannedFormTablesScoreLikeAllForms) {
  const int n = 300;
  const size_t num_queries = 3;
  for (const Case& c : ScanCases()) {
    auto codec = MakeCodec(c.kind, c.dim, c.bits);
    SCOPED_TRACE(Name(*codec));
    const std::vector<uint8_t> codes = Encode(*codec, Data(n, c.dim, 400 + c.bits));
    ScanLayout layout(*codec);
    layout.Append(codes.data(), n);
    if (!layout.uses_lookup_tables()) continue;
    const std::vector<float> queries = GaussianVectors(num_queries, c.dim, 13);
    const ScanObjective objective = ScanObjective::kNegativeL2Partial;
    const QueryTables all(*codec, queries.data(), num_queries, objective, TableForms::kAll);
    const QueryTables scanned(*codec, queries.data(), num_queries, objective);
    const bool int8 = ScanUsesInt8Dot(all);
    EXPECT_EQ(scanned.data().int8_mse, int8);
    EXPECT_EQ(scanned.data().u8_mse, !int8);
    std::vector<std::vector<Candidate>> want, got;
    ScanForCandidates(layout, all, 0, layout.num_blocks(), RowMask(), n, &want);
    ScanForCandidates(layout, scanned, 0, layout.num_blocks(), RowMask(), n, &got);
    for (size_t q = 0; q < num_queries; ++q) {
      std::map<uint32_t, float> scores;
      for (const Candidate& cand : want[q]) scores[cand.row] = cand.score;
      ASSERT_EQ(got[q].size(), size_t(n));
      for (const Candidate& cand : got[q]) ASSERT_EQ(cand.score, scores[cand.row]);
    }
  }
}

// The re-scoring estimate of 4-bit rows (SIMD where the target has it) has
// the bits of the scalar MseEstimate<4>, for dims with and without a tail.
TEST(ScanTest, MseEstimates4EqualsScalarEstimate) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> normal;
  std::vector<float> centroids(16);
  for (float& c : centroids) c = normal(rng);
  for (size_t dim : {size_t{128}, size_t{100}, size_t{7}, size_t{33}}) {
    SCOPED_TRACE(dim);
    const size_t rows = 5, bytes = (dim + 1) / 2;
    std::vector<uint8_t> packed(rows * bytes);
    for (uint8_t& b : packed) b = static_cast<uint8_t>(byte(rng));
    std::vector<float> rotated(dim), scalars(rows), got(rows), scratch(dim);
    for (float& x : rotated) x = normal(rng);
    for (float& x : scalars) x = normal(rng);
    for (int64_t target : Targets()) {
      hwy::SetSupportedTargetsForTest(target);
      SCOPED_TRACE(hwy::TargetName(target));
      MseEstimates4(packed.data(), rows, centroids.data(), rotated.data(), dim, scalars.data(),
                    got.data());
      for (size_t h = 0; h < rows; ++h) {
        EXPECT_EQ(got[h], MseEstimate<4>(&packed[h * bytes], centroids.data(), rotated.data(), dim,
                                         scalars[h], scratch.data()));
      }
    }
    hwy::SetSupportedTargetsForTest(0);
  }
}

// On more data the candidates of k' = 100 still hold the float estimator's
// top 10 (what the index re-scores), on every target.
TEST(ScanTest, CandidatesHoldTheReferenceTop10On20kRows) {
  const int n = 20000, dim = 128;
  const size_t num_queries = 8, keep = 100, k = 10;
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    for (int bits : {2, 4}) {
      auto codec = MakeCodec(kind, dim, bits);
      const std::vector<uint8_t> codes = Encode(*codec, Data(n, dim, 300 + bits));
      ScanLayout layout(*codec);
      layout.Append(codes.data(), n);
      const std::vector<float> queries = GaussianVectors(num_queries, dim, 12);
      std::vector<std::vector<Candidate>> reference;
      ScanForCandidatesReference(layout, *codec, queries.data(), num_queries,
                                 ScanObjective::kInnerProduct, RowMask(), k, &reference);
      const QueryTables tables(*codec, queries.data(), num_queries, ScanObjective::kInnerProduct,
                               TableForms::kAll);
      for (int64_t target : Targets()) {
        hwy::SetSupportedTargetsForTest(target);
        SCOPED_TRACE(Name(*codec) + " target=" + hwy::TargetName(target));
        std::vector<std::vector<Candidate>> best;
        ScanForCandidates(layout, tables, 0, layout.num_blocks(), RowMask(), keep, &best);
        size_t found = 0;
        for (size_t q = 0; q < num_queries; ++q) {
          std::set<uint32_t> rows;
          for (const Candidate& c : best[q]) rows.insert(c.row);
          for (const Candidate& c : reference[q]) found += rows.count(c.row);
        }
        EXPECT_EQ(found, num_queries * k);
      }
      hwy::SetSupportedTargetsForTest(0);
    }
  }
}

// Recall@10 of rows ranked by the scan (k' = 100 candidates re-scored by the
// float estimator) and by the float estimator over every row.
struct ScanRecall {
  double scan = 0, reference = 0;
};

ScanRecall RecallOnSiftsmall(const Codec& codec, const Matrix& base, const Matrix& queries,
                             const IdMatrix& truth) {
  const int dim = codec.dim();
  std::vector<float> x(base.rows * dim), q(queries.rows * dim);
  for (int64_t r = 0; r < base.rows; ++r) std::copy_n(&base.data[r * base.dim], dim, &x[r * dim]);
  for (int64_t r = 0; r < queries.rows; ++r) {
    std::copy_n(&queries.data[r * queries.dim], dim, &q[r * dim]);
  }
  const std::vector<uint8_t> codes = Encode(codec, x);
  ScanLayout layout(codec);
  layout.Append(codes.data(), base.rows);
  const ScanObjective objective = ScanObjective::kNegativeL2Partial;
  const QueryTables tables(codec, q.data(), queries.rows, objective);
  std::vector<std::vector<Candidate>> best, reference;
  ScanForCandidates(layout, tables, 0, layout.num_blocks(), RowMask(), 100, &best);
  ScanForCandidatesReference(layout, codec, q.data(), queries.rows, objective, RowMask(), 10,
                             &reference);
  ScanRecall recall;
  for (int64_t i = 0; i < queries.rows; ++i) {
    const std::set<int64_t> want(&truth.data[i * truth.dim], &truth.data[i * truth.dim] + 10);
    for (uint32_t row : RescoredTop(codec, layout, &q[i * dim], objective, best[i], 10)) {
      recall.scan += want.count(row);
    }
    for (uint32_t row : TopRows(reference[i], 10)) recall.reference += want.count(row);
  }
  recall.scan /= 10.0 * queries.rows;
  recall.reference /= 10.0 * queries.rows;
  return recall;
}

// On a real set (siftsmall, L2), dense 3-bit codes rank exactly as the float
// estimator of the same codes, whose recall does not depend on the layout:
// recall is what the nibble-per-index layout gave. Also on the first 100 dims
// (d not a multiple of 8).
TEST(ScanTest, Dense3RecallEqualsTheFloatEstimatorOnSiftsmall) {
  const std::string base_path = testing::SharedDataPath("siftsmall/siftsmall_base.fvecs");
  if (base_path.empty()) GTEST_SKIP() << "siftsmall not found under ../shared/data";
  auto base = ReadVectors(base_path);
  auto queries = ReadVectors(testing::SharedDataPath("siftsmall/siftsmall_query.fvecs"));
  auto truth = ReadIdRows(testing::SharedDataPath("siftsmall/siftsmall_groundtruth.ivecs"));
  ASSERT_TRUE(base.ok() && queries.ok() && truth.ok());
  for (int dim : {128, 100}) {
    for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
      auto codec = MakeCodec(kind, dim, kind == CodecKind::kMse ? 3 : 4);
      SCOPED_TRACE(Name(*codec));
      const ScanRecall recall = RecallOnSiftsmall(*codec, *base, *queries, *truth);
      EXPECT_EQ(recall.scan, recall.reference);
      std::printf("siftsmall %-28s recall@10 scan %.4f  float estimator %.4f\n",
                  Name(*codec).c_str(), recall.scan, recall.reference);
    }
  }
}

TEST(ScanTest, BitmapOfNothingReturnsNothing) {
  auto codec = MakeCodec(CodecKind::kMse, 128, 4);
  const std::vector<uint8_t> codes = Encode(*codec, Data(100, 128, 5));
  ScanLayout layout(*codec);
  layout.Append(codes.data(), 100);
  const std::vector<float> queries = GaussianVectors(2, 128, 6);
  const QueryTables tables(*codec, queries.data(), 2, ScanObjective::kInnerProduct);
  RowBitmap none = RowBitmap::AllClear(100);
  std::vector<std::vector<Candidate>> best;
  ScanForCandidates(layout, tables, 0, layout.num_blocks(), none.mask(), 10, &best);
  ASSERT_EQ(best.size(), 2u);
  EXPECT_TRUE(best[0].empty());
  EXPECT_TRUE(best[1].empty());
  // Only row 70 allowed.
  none.Set(70);
  ScanForCandidates(layout, tables, 0, layout.num_blocks(), none.mask(), 10, &best);
  ASSERT_EQ(best[0].size(), 1u);
  EXPECT_EQ(best[0][0].row, 70u);
}

// Scanning block ranges one after another merges into the same result as
// one call over all blocks.
TEST(ScanTest, RangesMergeLikeOneScan) {
  auto codec = MakeCodec(CodecKind::kProd, 128, 4);
  const int n = 1000;
  const std::vector<uint8_t> codes = Encode(*codec, Data(n, 128, 8));
  ScanLayout layout(*codec);
  layout.Append(codes.data(), n);
  const std::vector<float> queries = GaussianVectors(5, 128, 10);
  const QueryTables tables(*codec, queries.data(), 5, ScanObjective::kNegativeL2Partial);
  std::vector<std::vector<Candidate>> whole, parts;
  ScanForCandidates(layout, tables, 0, layout.num_blocks(), RowMask(), 20, &whole);
  for (size_t b = 0; b < layout.num_blocks(); b += 7) {
    ScanForCandidates(layout, tables, b, b + 7, RowMask(), 20, &parts);
  }
  for (size_t q = 0; q < 5; ++q) {
    EXPECT_EQ(TopRows(whole[q], 20), TopRows(parts[q], 20));
  }
  // A smaller keep trims what is already there.
  ScanForCandidates(layout, tables, 0, 0, RowMask(), 3, &parts);
  EXPECT_EQ(parts[0].size(), 3u);
}

}  // namespace
}  // namespace turboquant::internal
