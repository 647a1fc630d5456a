// The fused SIMD encoder (src/codec/encode_kernels.cc) and its parts against
// their plain scalar references, on every SIMD target this CPU runs: codes
// must be bit-identical, for every dimension shape (powers of two, sums of
// blocks, below one vector), every width and awkward inputs.
#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "src/codec/bitpack.h"
#include "src/codec/encode_steps.h"
#include "src/codec/hadamard_plan.h"
#include "src/codec/rotation.h"
#include "src/util/random.h"
#include "tests/test_util.h"
#include "turboquant/codec.h"

namespace turboquant {
namespace {

using internal::SeededRandom;

// Rows of different magnitudes, plus a zero row, a one-hot row and rows of
// tiny and huge values, so normalization and rounding edge cases show up.
std::vector<float> AwkwardRows(int dim, int* rows) {
  SeededRandom random(static_cast<uint64_t>(dim) * 7 + 1);
  const double scales[] = {1.0, 1e-3, 37.0, 1e-30, 1e30};
  std::vector<float> out;
  for (double scale : scales) {
    for (int r = 0; r < 4; ++r) {
      for (int j = 0; j < dim; ++j) out.push_back(static_cast<float>(random.Normal() * scale));
    }
  }
  out.resize(out.size() + dim, 0.0f);  // zero row
  out.resize(out.size() + dim, 0.0f);
  out[out.size() - dim + dim / 2] = -2.5f;  // one-hot row
  *rows = static_cast<int>(out.size() / dim);
  return out;
}

std::vector<uint8_t> ReferenceCodes(const Codec& codec, const std::vector<float>& x, int rows) {
  std::vector<uint8_t> codes(rows * codec.code_size());
  for (int r = 0; r < rows; ++r) {
    internal::EncodeReference(codec, &x[static_cast<size_t>(r) * codec.dim()],
                              &codes[r * codec.code_size()]);
  }
  return codes;
}

void ExpectFusedEqualsReference(CodecKind kind, int dim, int bits) {
  auto codec = Codec::Create(kind, {.dim = dim, .bits = bits, .seed = 1234});
  ASSERT_TRUE(codec.ok()) << codec.status();
  int rows = 0;
  const std::vector<float> x = AwkwardRows(dim, &rows);
  const std::vector<uint8_t> reference = ReferenceCodes(**codec, x, rows);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    std::vector<uint8_t> batch(reference.size()), single(reference.size());
    ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(batch)).ok());
    for (int r = 0; r < rows; ++r) {
      (*codec)->EncodeOne(&x[static_cast<size_t>(r) * dim], &single[r * (*codec)->code_size()]);
    }
    EXPECT_EQ(batch, reference) << CodecKindName(kind) << " dim=" << dim << " bits=" << bits
                                << " target=" << hwy::TargetName(target);
    EXPECT_EQ(single, reference) << CodecKindName(kind) << " dim=" << dim << " bits=" << bits
                                 << " target=" << hwy::TargetName(target);
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST(FusedEncoderTest, EveryWidthAtTypicalDimensions) {
  for (int dim : {100, 128, 768}) {
    for (int bits = 1; bits <= 8; ++bits) {
      ExpectFusedEqualsReference(CodecKind::kMse, dim, bits);
      if (bits >= 2) ExpectFusedEqualsReference(CodecKind::kProd, dim, bits);
    }
  }
}

TEST(FusedEncoderTest, EveryDimensionShape) {
  // Below one vector, one vector +- 1, single blocks of 2..64 vectors, and
  // sums of blocks (with permutations between the rounds).
  for (int dim : {2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 32, 33, 48, 64, 96, 127, 256, 257, 512,
                  1000, 1024, 1536}) {
    for (int bits : {2, 4}) {
      ExpectFusedEqualsReference(CodecKind::kMse, dim, bits);
      ExpectFusedEqualsReference(CodecKind::kProd, dim, bits);
    }
  }
}

TEST(FusedEncoderTest, DenseRotationStillEncodes) {
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    auto codec = Codec::Create(
        kind, {.dim = 40, .bits = 3, .rotation = RotationKind::kDenseOrthogonal});
    ASSERT_TRUE(codec.ok());
    int rows = 0;
    const std::vector<float> x = AwkwardRows(40, &rows);
    std::vector<uint8_t> codes(rows * (*codec)->code_size());
    ASSERT_TRUE((*codec)->Encode(x, absl::MakeSpan(codes)).ok());
    EXPECT_EQ(codes, ReferenceCodes(**codec, x, rows));
  }
}

TEST(HadamardKernelTest, ForwardRotationMatchesScalarDefinition) {
  for (int dim : {2, 3, 16, 100, 128, 768, 1000, 4096}) {
    auto rotation = internal::Rotation::Create(RotationKind::kHadamard, dim, 31);
    ASSERT_TRUE(rotation.ok());
    int rows = 0;
    const std::vector<float> x = AwkwardRows(dim, &rows);
    std::vector<float> want(dim), got(dim);
    internal::HadamardForwardReference(*(*rotation)->hadamard_plan(), x.data(), want.data());
    for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
      hwy::SetSupportedTargetsForTest(target);
      (*rotation)->Apply(x.data(), got.data());
      EXPECT_EQ(0, std::memcmp(got.data(), want.data(), dim * sizeof(float)))
          << "dim=" << dim << " target=" << hwy::TargetName(target);
    }
    hwy::SetSupportedTargetsForTest(0);
  }
}

TEST(BitPackKernelTest, FastPackingEqualsReferenceAndStaysInBounds) {
  SeededRandom random(5);
  for (int bits = 1; bits <= 8; ++bits) {
    for (size_t count : {1, 7, 8, 9, 16, 24, 63, 64, 100, 128, 1001}) {
      std::vector<uint8_t> values(count);
      for (auto& v : values) v = static_cast<uint8_t>(random.Below(1u << bits));
      const size_t size = internal::PackedSize(count, bits);
      std::vector<uint8_t> fast(size + 8, 0xAB), reference(size + 8, 0xAB);
      internal::PackBits(values.data(), count, bits, fast.data());
      internal::PackBitsReference(values.data(), count, bits, reference.data());
      EXPECT_EQ(fast, reference) << "bits=" << bits << " count=" << count;
      for (size_t b = size; b < fast.size(); ++b) ASSERT_EQ(fast[b], 0xAB) << "wrote past the end";
    }
  }
}

// The flat codes of the codec API and the write-ahead hold 3-bit indices at 3
// bits per coordinate (the scan layout widens nothing on disk either: see
// tests/scan_test.cc), and unpack to the values packed.
TEST(BitPackKernelTest, ThreeBitCodesArePackedDenselyAndUnpackBack) {
  SeededRandom random(9);
  for (int dim : {5, 13, 33, 100, 101, 128, 768}) {
    const size_t dense = (3 * size_t(dim) + 7) / 8;
    auto mse = Codec::Create(CodecKind::kMse, {.dim = dim, .bits = 3});
    auto prod = Codec::Create(CodecKind::kProd, {.dim = dim, .bits = 4});
    ASSERT_TRUE(mse.ok() && prod.ok());
    EXPECT_EQ((*mse)->code_size(), dense + 8) << dim;
    EXPECT_EQ((*prod)->code_size(), dense + (size_t(dim) + 7) / 8 + 8) << dim;
    std::vector<uint8_t> values(dim), packed(dense), unpacked(dim);
    for (auto& v : values) v = static_cast<uint8_t>(random.Below(8));
    internal::PackBits(values.data(), dim, 3, packed.data());
    internal::UnpackBits(packed.data(), dim, 3, unpacked.data());
    EXPECT_EQ(unpacked, values) << dim;
  }
}

}  // namespace
}  // namespace turboquant
