// SIMD nearest-centroid search of Codebook::Quantize. For up to 4 bits the
// index is the count of thresholds below y, 15 compares per vector at most,
// which beats a gather-based binary search; wider codebooks use the scalar
// binary search of Codebook::QuantizeScalar. Both give identical indices.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/codec/quantize.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "src/codec/codebook.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Returns how many leading values were quantized (a multiple of the lanes).
size_t CountBoundariesBelow(const float* boundaries, size_t num_boundaries, const float* y,
                            size_t n, uint8_t* indices) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<uint8_t, decltype(d)> d8;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(d, y + i);
    auto count = hn::Zero(di);
    for (size_t j = 0; j < num_boundaries; ++j) {
      const auto above = hn::RebindMask(di, hn::Gt(v, hn::Set(d, boundaries[j])));
      count = hn::Sub(count, hn::VecFromMask(di, above));  // a true mask is -1
    }
    hn::StoreU(hn::DemoteTo(d8, count), d8, indices + i);
  }
  return i;
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace turboquant::internal {

HWY_EXPORT(CountBoundariesBelow);

void Codebook::Quantize(const float* y, size_t n, uint8_t* indices) const {
  size_t done = 0;
  if (bits_ <= 4) {
    done = HWY_DYNAMIC_DISPATCH(CountBoundariesBelow)(boundaries_.data(), boundaries_.size(), y,
                                                       n, indices);
  }
  QuantizeScalar(y + done, n - done, indices + done);
}

}  // namespace turboquant::internal
#endif  // HWY_ONCE
