// MseEstimates4 (mse_estimate.h): the scalar MseEstimate<4> per row, or with
// AVX-512 per 16 dims: the 8 index bytes split into nibbles in dim order
// (byte g holds dims 2g, 2g + 1, low nibble first), widened to 16 int32 lane
// indices, looked up in the 16 centroids (one register), and multiplied and
// added into one accumulator whose lane j is FixedOrderDot's partial sum j.
// The rest of the dims and the pairwise tree are FixedOrderDot's own code.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/scan/mse_estimate.cc"
#include "src/scan/mse_estimate.h"

#include <vector>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "src/util/fixed_order_sum.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
float MseEstimate4(const uint8_t* HWY_RESTRICT packed, hn::Vec<hn::Full512<float>> book,
                   const float* HWY_RESTRICT centroids, const float* HWY_RESTRICT rotated,
                   size_t dim, float scalar) {
  static_assert(kFixedOrderPartials == 16, "one 16-lane accumulator");
  const hn::Full512<float> df;
  const hn::Full512<int32_t> di;
  const hn::Full128<uint8_t> d8;
  const hn::Full64<uint8_t> d8h;
  const auto low_nibble = hn::Set(d8, 0x0F);
  auto partial = hn::Zero(df);
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const auto bytes = hn::ZeroExtendVector(d8, hn::LoadU(d8h, packed + i / 2));
    const auto nibbles =
        hn::InterleaveLower(d8, hn::And(bytes, low_nibble), hn::ShiftRight<4>(bytes));
    const auto values =
        hn::TableLookupLanes(book, hn::IndicesFromVec(df, hn::PromoteTo(di, nibbles)));
    partial = hn::Add(partial, hn::Mul(hn::LoadU(df, rotated + i), values));
  }
  HWY_ALIGN float partials[16];
  hn::Store(partial, df, partials);
  float rest[16];
  for (size_t j = i; j < dim; ++j) rest[j - i] = centroids[(packed[j / 2] >> (4 * (j % 2))) & 15];
  return FinishFixedOrderDot(partials, rotated + i, rest, dim - i) * scalar;
}

void MseEstimates4Kernel(const uint8_t* HWY_RESTRICT packed, size_t count,
                         const float* HWY_RESTRICT centroids, const float* HWY_RESTRICT rotated,
                         size_t dim, const float* HWY_RESTRICT scalars, float* HWY_RESTRICT out) {
  const auto book = hn::LoadU(hn::Full512<float>(), centroids);
  const size_t bytes = (dim + 1) / 2;
  for (size_t h = 0; h < count; ++h) {
    out[h] = MseEstimate4(packed + h * bytes, book, centroids, rotated, dim, scalars[h]);
  }
}
#else
void MseEstimates4Kernel(const uint8_t* HWY_RESTRICT packed, size_t count,
                         const float* HWY_RESTRICT centroids, const float* HWY_RESTRICT rotated,
                         size_t dim, const float* HWY_RESTRICT scalars, float* HWY_RESTRICT out) {
  const size_t bytes = (dim + 1) / 2;
  std::vector<float> reconstructed(dim);
  for (size_t h = 0; h < count; ++h) {
    out[h] = MseEstimate<4>(packed + h * bytes, centroids, rotated, dim, scalars[h],
                            reconstructed.data());
  }
}
#endif

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace turboquant::internal {

HWY_EXPORT(MseEstimates4Kernel);

void MseEstimates4(const uint8_t* packed, size_t count, const float* centroids,
                   const float* rotated, size_t dim, const float* scalars, float* out) {
  HWY_DYNAMIC_DISPATCH(MseEstimates4Kernel)(packed, count, centroids, rotated, dim, scalars, out);
}

}  // namespace turboquant::internal
#endif  // HWY_ONCE
