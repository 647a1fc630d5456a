// Codebook::Quantize: the SIMD quantizer of quantize-inl.h behind dynamic
// dispatch. Gives the same indices as Codebook::QuantizeScalar.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/codec/quantize.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "src/codec/quantize-inl.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {

void QuantizeIndices(const Codebook& codebook, const float* y, size_t n, uint8_t* indices) {
  QuantizeAndReconstruct(hn::ScalableTag<float>(), codebook, y, n, indices, nullptr, nullptr);
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace turboquant::internal {

HWY_EXPORT(QuantizeIndices);

void Codebook::Quantize(const float* y, size_t n, uint8_t* indices) const {
  HWY_DYNAMIC_DISPATCH(QuantizeIndices)(*this, y, n, indices);
}

}  // namespace turboquant::internal
#endif  // HWY_ONCE
