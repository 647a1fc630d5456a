// Distortion, unbiasedness, determinism and bad input of MseCodec / ProdCodec.
#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "src/codec/bitpack.h"
#include "src/codec/codebook.h"
#include "src/codec/rotation.h"
#include "src/util/fixed_order_sum.h"
#include "src/util/random.h"
#include "tests/test_util.h"
#include "turboquant/codec.h"

namespace turboquant {
namespace {

using internal::Codebook;
using internal::SeededRandom;

// Unit vectors from the library's own generator, identical on every platform.
std::vector<float> PortableUnitVectors(int n, int dim, uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> out(static_cast<size_t>(n) * dim);
  for (int i = 0; i < n; ++i) {
    float* row = &out[static_cast<size_t>(i) * dim];
    double sum = 0;
    for (int j = 0; j < dim; ++j) {
      row[j] = static_cast<float>(random.Normal());
      sum += double(row[j]) * row[j];
    }
    for (int j = 0; j < dim; ++j) row[j] = static_cast<float>(row[j] / std::sqrt(sum));
  }
  return out;
}

double MeasuredUnitMse(const Codec& codec, int n) {
  const int dim = codec.dim();
  const std::vector<float> x = PortableUnitVectors(n, dim, 11);
  std::vector<uint8_t> codes(n * codec.code_size());
  std::vector<float> decoded(x.size());
  EXPECT_TRUE(codec.Encode(x, absl::MakeSpan(codes)).ok());
  EXPECT_TRUE(codec.Decode(codes, absl::MakeSpan(decoded)).ok());
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i) total += (x[i] - decoded[i]) * double(x[i] - decoded[i]);
  return total / n;
}

uint64_t Fnv1a(const std::vector<uint8_t>& bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (uint8_t b : bytes) hash = (hash ^ b) * 0x100000001b3ULL;
  return hash;
}

TEST(CodebookTest, ExpectedDistortionMatchesPaperTable) {
  // Max's Gaussian quantizer table, which the paper rounds to 0.36/0.117/0.03/0.009.
  const double expected[] = {0.363, 0.117, 0.0345, 0.0095};
  for (int bits = 1; bits <= 4; ++bits) {
    const double mse = Codebook::Get(128, bits)->expected_unit_mse();
    EXPECT_NEAR(mse, expected[bits - 1], 0.03 * expected[bits - 1]) << "bits=" << bits;
    EXPECT_GT(mse, std::pow(4.0, -bits)) << "cannot beat the lower bound 4^-b";
  }
}

TEST(CodebookTest, IsSymmetricAndSorted) {
  for (int dim : {2, 3, 128, 16384}) {
    for (int bits : {1, 3, 8}) {
      const auto codebook = Codebook::Get(dim, bits);
      const auto& c = codebook->centroids();
      ASSERT_EQ(c.size(), size_t{1} << bits);
      for (size_t j = 0; j + 1 < c.size(); ++j) EXPECT_LT(c[j], c[j + 1]);
      for (size_t j = 0; j < c.size(); ++j) EXPECT_FLOAT_EQ(c[j], -c[c.size() - 1 - j]);
      EXPECT_LE(c.back(), 1.0f);
    }
  }
}

TEST(CodebookTest, SimdQuantizeEqualsScalarReference) {
  std::vector<float> y(1000);
  SeededRandom random(3);
  for (float& v : y) v = static_cast<float>(random.Normal() / std::sqrt(128.0) * 1.5);
  for (int bits = 1; bits <= 8; ++bits) {
    const auto codebook = Codebook::Get(128, bits);
    // Values exactly on a boundary must land on the same side in both paths.
    for (size_t j = 0; j < codebook->boundaries().size() && j < 50; ++j) y[j] = codebook->boundaries()[j];
    std::vector<uint8_t> scalar(y.size()), simd(y.size());
    codebook->QuantizeScalar(y.data(), y.size(), scalar.data());
    for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
      hwy::SetSupportedTargetsForTest(target);
      codebook->Quantize(y.data(), y.size(), simd.data());
      EXPECT_EQ(simd, scalar) << "bits=" << bits << " target=" << hwy::TargetName(target);
    }
    hwy::SetSupportedTargetsForTest(0);
  }
}

TEST(RotationTest, IsOrthogonalForAnyDimension) {
  for (RotationKind kind : {RotationKind::kHadamard, RotationKind::kDenseOrthogonal}) {
    for (int dim : {2, 3, 7, 100, 128, 768, 1000}) {
      auto rotation = internal::Rotation::Create(kind, dim, 5);
      ASSERT_TRUE(rotation.ok());
      const std::vector<float> x = PortableUnitVectors(2, dim, dim);
      std::vector<float> y(dim), back(dim), y2(dim);
      (*rotation)->Apply(x.data(), y.data());
      (*rotation)->Apply(x.data() + dim, y2.data());
      (*rotation)->ApplyTranspose(y.data(), back.data());
      EXPECT_NEAR(internal::FixedOrderSquaredNorm(y.data(), dim), 1.0, 1e-4) << dim;
      // Inner products are preserved, not just norms.
      EXPECT_NEAR(internal::FixedOrderDot(y.data(), y2.data(), dim),
                  internal::FixedOrderDot(x.data(), x.data() + dim, dim), 1e-4);
      for (int i = 0; i < dim; ++i) ASSERT_NEAR(back[i], x[i], 1e-5) << "dim=" << dim << " i=" << i;
    }
  }
}

TEST(RotationTest, HadamardSpreadsASpikeOverEveryCoordinate) {
  // A one-hot vector must not stay sparse: after rotation every coordinate is small.
  for (int dim : {128, 768, 1000}) {
    auto rotation = internal::Rotation::Create(RotationKind::kHadamard, dim, 9);
    std::vector<float> x(dim, 0.0f), y(dim);
    x[dim / 3] = 1.0f;
    (*rotation)->Apply(x.data(), y.data());
    float largest = 0;
    for (float v : y) largest = std::max(largest, std::fabs(v));
    EXPECT_LT(largest, 6.0 / std::sqrt(dim)) << dim;
  }
}

TEST(BitPackTest, RoundTripsEveryWidthAndLength) {
  SeededRandom random(1);
  for (int bits = 1; bits <= 8; ++bits) {
    for (size_t count : {1, 7, 8, 9, 63, 128, 1001}) {
      std::vector<uint8_t> values(count);
      for (auto& v : values) v = static_cast<uint8_t>(random.Below(1u << bits));
      std::vector<uint8_t> packed(internal::PackedSize(count, bits) + 1, 0xAB);
      internal::PackBits(values.data(), count, bits, packed.data());
      EXPECT_EQ(packed.back(), 0xAB) << "wrote past the packed size";
      std::vector<uint8_t> unpacked(count);
      internal::UnpackBits(packed.data(), count, bits, unpacked.data());
      EXPECT_EQ(unpacked, values) << "bits=" << bits << " count=" << count;
    }
  }
}

TEST(MseCodecTest, CodeSizeIsBitPacked) {
  EXPECT_EQ((*MseCodec::Create(128, 4))->code_size(), 64u + 8u);
  EXPECT_EQ((*MseCodec::Create(128, 3))->code_size(), 48u + 8u);
  EXPECT_EQ((*MseCodec::Create(100, 3))->code_size(), 38u + 8u);
  EXPECT_EQ((*ProdCodec::Create(128, 4))->code_size(), 72u);  // ARCHITECTURE.md section 4
}

TEST(MseCodecTest, MeasuredDistortionMatchesCodebookAtDim128) {
  for (int bits = 1; bits <= 4; ++bits) {
    auto codec = MseCodec::Create(128, bits);
    ASSERT_TRUE(codec.ok());
    const double expected = (*codec)->codebook().expected_unit_mse();
    EXPECT_NEAR(MeasuredUnitMse(**codec, 20000), expected, 0.05 * expected) << "bits=" << bits;
  }
}

TEST(MseCodecTest, DenseRotationGivesTheSameDistortion) {
  CodecOptions options;
  options.dim = 128;
  options.bits = 2;
  options.rotation = RotationKind::kDenseOrthogonal;
  auto codec = MseCodec::Create(options);
  ASSERT_TRUE(codec.ok());
  const double expected = (*codec)->codebook().expected_unit_mse();
  EXPECT_NEAR(MeasuredUnitMse(**codec, 5000), expected, 0.05 * expected);
}

TEST(MseCodecTest, NonPowerOfTwoDimensionsReachTheirCodebookDistortion) {
  for (int dim : {100, 768, 1000}) {
    auto codec = MseCodec::Create(dim, 3);
    const double expected = (*codec)->codebook().expected_unit_mse();
    EXPECT_NEAR(MeasuredUnitMse(**codec, 2000), expected, 0.05 * expected) << "dim=" << dim;
  }
}

TEST(MseCodecTest, RenormalizedEstimateIsExactForTheVectorItself) {
  auto codec = MseCodec::Create(96, 2);
  const std::vector<float> x = testing::GaussianVectors(1, 96, 4);
  std::vector<uint8_t> code((*codec)->code_size());
  ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(code)).ok());
  const float exact = internal::FixedOrderSquaredNorm(x.data(), 96);
  EXPECT_NEAR((*codec)->EstimateInnerProduct(x.data(), code.data()), exact, 1e-3 * exact);
  EXPECT_NEAR((*codec)->StoredNorm(code.data()), std::sqrt(exact), 1e-4 * std::sqrt(exact));
}

TEST(MseCodecTest, ZeroVectorDecodesToZero) {
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    auto codec = Codec::Create(kind, {.dim = 64, .bits = 3});
    std::vector<float> x(64, 0.0f), decoded(64, 1.0f), q(64, 1.0f);
    std::vector<uint8_t> code((*codec)->code_size());
    ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(code)).ok());
    ASSERT_TRUE((*codec)->Decode(code, absl::MakeSpan(decoded)).ok());
    for (float v : decoded) EXPECT_EQ(v, 0.0f);
    EXPECT_EQ((*codec)->EstimateInnerProduct(q.data(), code.data()), 0.0f);
  }
}

TEST(ProdCodecTest, InnerProductEstimatesAreUnbiased) {
  constexpr int kDim = 128;
  constexpr int kPairs = 100000;
  for (int bits : {2, 3, 4}) {
    auto codec = ProdCodec::Create(kDim, bits, 77);
    ASSERT_TRUE(codec.ok());
    // 1000 data vectors against 100 queries; queries correlated with the data
    // so that the true inner products are not all near zero.
    const std::vector<float> x = PortableUnitVectors(1000, kDim, 21);
    std::vector<float> q = PortableUnitVectors(100, kDim, 22);
    for (int i = 0; i < 100; ++i) {
      for (int j = 0; j < kDim; ++j) q[i * kDim + j] += x[i * kDim + j];
    }
    std::vector<uint8_t> codes(1000 * (*codec)->code_size());
    ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(codes)).ok());
    double sum = 0, sum_sq = 0;
    std::vector<float> scores(1000);
    for (int qi = 0; qi < kPairs / 1000; ++qi) {
      const float* query = &q[qi * kDim];
      ASSERT_TRUE((*codec)->EstimateInnerProducts({query, kDim}, codes, absl::MakeSpan(scores)).ok());
      for (int i = 0; i < 1000; ++i) {
        const double error = scores[i] - internal::FixedOrderDot(query, &x[i * kDim], kDim);
        sum += error;
        sum_sq += error * error;
      }
    }
    const double mean = sum / kPairs;
    const double standard_error = std::sqrt((sum_sq / kPairs - mean * mean) / kPairs);
    EXPECT_LT(std::fabs(mean), 3 * standard_error) << "bits=" << bits << " mean=" << mean;
  }
}

TEST(ProdCodecTest, MseStageUsesOneBitFewer) {
  auto codec = ProdCodec::Create(128, 4);
  EXPECT_EQ((*codec)->codebook().bits(), 3);
  // The reconstruction is better than the 3-bit MSE stage alone would give.
  auto mse3 = MseCodec::Create(128, 3);
  EXPECT_LT(MeasuredUnitMse(**codec, 5000), 1.0 * MeasuredUnitMse(**mse3, 5000) + 0.02);
}

TEST(CodecTest, CodesAreBitIdenticalOnEverySimdTarget) {
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    for (int dim : {100, 128, 768}) {
      auto codec = Codec::Create(kind, {.dim = dim, .bits = 4, .seed = 5});
      const std::vector<float> x = PortableUnitVectors(50, dim, 8);
      std::vector<uint8_t> reference;
      for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
        hwy::SetSupportedTargetsForTest(target);
        std::vector<uint8_t> codes(50 * (*codec)->code_size());
        ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(codes)).ok());
        if (reference.empty()) reference = codes;
        EXPECT_EQ(codes, reference) << CodecKindName(kind) << " dim=" << dim
                                    << " target=" << hwy::TargetName(target);
      }
      hwy::SetSupportedTargetsForTest(0);
    }
  }
}

TEST(CodecTest, GoldenCodesNeverChange) {
  // A change of these hashes breaks every stored collection: only change them
  // together with a format version bump.
  struct Golden {
    CodecKind kind;
    int dim, bits;
    uint64_t hash;
  };
  const Golden goldens[] = {
      {CodecKind::kMse, 128, 4, 1318814054774557582ULL},
      {CodecKind::kMse, 100, 2, 9533803421223200141ULL},
      {CodecKind::kProd, 128, 4, 2151536801350724869ULL},
      {CodecKind::kProd, 768, 3, 2429744226202587903ULL},
  };
  for (const Golden& golden : goldens) {
    auto codec = Codec::Create(golden.kind, {.dim = golden.dim, .bits = golden.bits, .seed = 42});
    const std::vector<float> x = PortableUnitVectors(20, golden.dim, 99);
    std::vector<uint8_t> codes(20 * (*codec)->code_size());
    ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(codes)).ok());
    EXPECT_EQ(Fnv1a(codes), golden.hash) << CodecKindName(golden.kind) << " dim=" << golden.dim
                                         << " bits=" << golden.bits;
  }
}

TEST(CodecTest, SeedChangesTheCode) {
  const std::vector<float> x = PortableUnitVectors(1, 128, 1);
  std::vector<uint8_t> a((*MseCodec::Create(128, 4, 1))->code_size()), b(a.size());
  ASSERT_TRUE((*MseCodec::Create(128, 4, 1))->Encode(x, absl::MakeSpan(a)).ok());
  ASSERT_TRUE((*MseCodec::Create(128, 4, 2))->Encode(x, absl::MakeSpan(b)).ok());
  EXPECT_NE(a, b);
}

TEST(CodecBadInputTest, RejectsDimensionAndBitsOutOfRange) {
  EXPECT_FALSE(MseCodec::Create(1, 4).ok());
  EXPECT_FALSE(MseCodec::Create(16385, 4).ok());
  EXPECT_FALSE(MseCodec::Create(128, 0).ok());
  EXPECT_FALSE(MseCodec::Create(128, 9).ok());
  const auto prod = ProdCodec::Create(128, 1);
  ASSERT_FALSE(prod.ok());
  EXPECT_NE(prod.status().message().find("bits 1"), std::string::npos) << prod.status();
  EXPECT_NE(prod.status().message().find("prod"), std::string::npos) << prod.status();
  const auto dim = MseCodec::Create(0, 4);
  EXPECT_NE(dim.status().message().find("dim 0"), std::string::npos) << dim.status();
  CodecOptions dense{.dim = 8192, .bits = 4, .rotation = RotationKind::kDenseOrthogonal};
  EXPECT_FALSE(MseCodec::Create(dense).ok());
  EXPECT_FALSE(ParseCodecKind("pq").ok());
}

TEST(CodecBadInputTest, RejectsNonFiniteComponentsNamingRowAndIndex) {
  auto codec = MseCodec::Create(8, 4);
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    std::vector<float> x(4 * 8, 0.5f);
    x[3 * 8 + 5] = bad;
    std::vector<uint8_t> codes(4 * (*codec)->code_size());
    const Status status = (*codec)->Encode(x, absl::MakeSpan(codes));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("vector 3"), std::string::npos) << status;
    EXPECT_NE(status.message().find("index 5"), std::string::npos) << status;
  }
  std::vector<float> q(8, 0.0f);
  q[2] = NAN;
  std::vector<uint8_t> code((*codec)->code_size());
  std::vector<float> score(1);
  EXPECT_FALSE((*codec)->EstimateInnerProducts(q, code, absl::MakeSpan(score)).ok());
}

TEST(CodecBadInputTest, RejectsMismatchedSizes) {
  auto codec = ProdCodec::Create(8, 3);
  std::vector<float> x(12, 0.1f);  // 1.5 vectors
  std::vector<uint8_t> codes(2 * (*codec)->code_size());
  EXPECT_FALSE((*codec)->Encode(x, absl::MakeSpan(codes)).ok());
  std::vector<float> two(16, 0.1f);
  std::vector<uint8_t> too_small((*codec)->code_size());
  EXPECT_FALSE((*codec)->Encode(two, absl::MakeSpan(too_small)).ok());
  std::vector<float> decoded(7);
  EXPECT_FALSE((*codec)->Decode(too_small, absl::MakeSpan(decoded)).ok());
  std::vector<float> query(9, 0.0f), score(1);
  const Status status = (*codec)->EstimateInnerProducts(query, too_small, absl::MakeSpan(score));
  EXPECT_NE(status.message().find("dimension 9"), std::string::npos) << status;
}

}  // namespace
}  // namespace turboquant
