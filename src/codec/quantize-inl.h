// Per-target nearest-centroid search of the Lloyd-Max codebook. The index of
// y is the number of decision thresholds strictly below y (what
// Codebook::QuantizeScalar computes with std::lower_bound); every path here
// returns exactly that count, so indices agree bit for bit.
//  - levels <= lanes (e.g. 3 and 4 bits on AVX-512): a branch-free binary
//    search, one table lookup (TableLookupLanes) and compare per bit, and the
//    centroid is one more lookup;
//  - levels <= 16 otherwise: count the thresholds below y, one compare each;
//  - wider codebooks: the caller falls back to the scalar binary search.
//
// Include after "hwy/highway.h" inside a foreach_target translation unit.
#if defined(TURBOQUANT_SRC_CODEC_QUANTIZE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TURBOQUANT_SRC_CODEC_QUANTIZE_INL_H_
#undef TURBOQUANT_SRC_CODEC_QUANTIZE_INL_H_
#else
#define TURBOQUANT_SRC_CODEC_QUANTIZE_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "src/codec/codebook.h"

HWY_BEFORE_NAMESPACE();
namespace turboquant::internal {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One step of the binary search: index += step where y > table[index], the
// table holding boundaries[index + step - 1].
template <class D, class V, class VI>
HWY_INLINE VI SearchStep(D d, V y, VI index, V table, int step) {
  const hn::RebindToSigned<D> di;
  const V threshold = hn::TableLookupLanes(table, hn::IndicesFromVec(d, index));
  const auto above = hn::RebindMask(di, hn::Gt(y, threshold));
  return hn::IfThenElse(above, hn::Add(index, hn::Set(di, step)), index);
}

// Binary search for levels <= Lanes(d). Writes indices and, where the
// pointers are not null, the reconstructions c[i] and residuals y[i] - c[i];
// returns the count done.
template <class D>
size_t QuantizeBySearch(D d, const Codebook& codebook, const float* HWY_RESTRICT y, size_t n,
                        uint8_t* HWY_RESTRICT indices, float* HWY_RESTRICT centroids,
                        float* HWY_RESTRICT residuals) {
  const hn::RebindToSigned<D> di;
  const hn::Rebind<uint8_t, D> d8;
  const size_t lanes = hn::Lanes(d);
  const int half = codebook.levels() / 2;  // the first step
  const auto middle = hn::Set(d, codebook.boundaries()[half - 1]);
  const auto step4 = hn::LoadU(d, codebook.search_table(2));
  const auto step2 = hn::LoadU(d, codebook.search_table(1));
  const auto step1 = hn::LoadU(d, codebook.search_table(0));
  const auto table = hn::LoadU(d, codebook.padded_centroids());
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(d, y + i);
    auto index = hn::IfThenElseZero(hn::RebindMask(di, hn::Gt(v, middle)), hn::Set(di, half));
    if (half >= 8) index = SearchStep(d, v, index, step4, 4);
    if (half >= 4) index = SearchStep(d, v, index, step2, 2);
    if (half >= 2) index = SearchStep(d, v, index, step1, 1);
    hn::StoreU(hn::DemoteTo(d8, index), d8, indices + i);
    const auto centroid = hn::TableLookupLanes(table, hn::IndicesFromVec(d, index));
    if (centroids != nullptr) hn::StoreU(centroid, d, centroids + i);
    if (residuals != nullptr) hn::StoreU(hn::Sub(v, centroid), d, residuals + i);
  }
  return i;
}

// Counting for levels <= 16; centroids and residuals are looked up scalar
// (by FinishQuantize).
template <class D>
size_t QuantizeByCounting(D d, const Codebook& codebook, const float* HWY_RESTRICT y, size_t n,
                          uint8_t* HWY_RESTRICT indices) {
  const hn::RebindToSigned<D> di;
  const hn::Rebind<uint8_t, D> d8;
  const size_t lanes = hn::Lanes(d);
  const float* boundaries = codebook.boundaries().data();
  const size_t num_boundaries = codebook.boundaries().size();
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

// Centroids and residuals of indices[begin, n), scalar.
inline void FinishQuantize(const Codebook& codebook, const float* HWY_RESTRICT y, size_t begin,
                           size_t n, const uint8_t* HWY_RESTRICT indices,
                           float* HWY_RESTRICT centroids, float* HWY_RESTRICT residuals) {
  const float* values = codebook.centroids().data();
  for (size_t k = begin; k < n; ++k) {
    const float centroid = values[indices[k]];
    if (centroids != nullptr) centroids[k] = centroid;
    if (residuals != nullptr) residuals[k] = y[k] - centroid;
  }
}

// Indices of y[0, n), and where the pointers are not null the centroids
// c[i] and the residuals y[i] - c[i]: the SIMD paths for whole vectors, the
// scalar reference for the rest.
template <class D>
void QuantizeAndReconstruct(D d, const Codebook& codebook, const float* HWY_RESTRICT y, size_t n,
                            uint8_t* HWY_RESTRICT indices, float* HWY_RESTRICT centroids,
                            float* HWY_RESTRICT residuals) {
  const size_t levels = static_cast<size_t>(codebook.levels());
  size_t done = 0;     // indices done
  size_t finished = 0;  // centroids and residuals done
  if (levels <= hn::Lanes(d) && levels <= Codebook::kTableSize) {
    done = finished = QuantizeBySearch(d, codebook, y, n, indices, centroids, residuals);
  } else if (levels <= Codebook::kTableSize) {
    done = QuantizeByCounting(d, codebook, y, n, indices);
  }
  codebook.QuantizeScalar(y + done, n - done, indices + done);
  FinishQuantize(codebook, y, finished, n, indices, centroids, residuals);
}

}  // namespace HWY_NAMESPACE
}  // namespace turboquant::internal
HWY_AFTER_NAMESPACE();

#endif  // include guard toggle
