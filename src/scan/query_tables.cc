// Building the u8 nibble tables of a query batch (see query_tables.h).
#include "src/scan/query_tables.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "src/codec/codebook.h"
#include "src/scan/scan_kernels.h"

namespace turboquant::internal {
namespace {

constexpr int kTableEntries = 16;

// std::nearbyint(x) in the default rounding mode (to nearest, ties to even)
// for |x| < 2^51, without the libm call the baseline x86-64 target makes for
// it (one call per table entry was most of the table build). Adding 1.5 * 2^52
// leaves no fraction bits, so the FPU rounds x exactly as nearbyint does.
double RoundToNearestEven(double x) {
  constexpr double kShift = 6755399441055744.0;  // 1.5 * 2^52
  return (x + kShift) - kShift;  // the build has -fno-fast-math: nothing folds this away
}

// Float tables of one section: nibbles * 16 values.
struct FloatTables {
  size_t nibbles = 0;
  std::vector<double> values;
};

// One index per nibble (3 or 4 bits): nibble n holds dim NibbleDim(n).
FloatTables NibblePerIndexTables(const CodeShape& shape, const std::vector<float>& rotated,
                                 const std::vector<float>& centroids) {
  FloatTables t;
  t.nibbles = 2 * shape.mse.groups;
  t.values.assign(t.nibbles * kTableEntries, 0.0);
  for (size_t n = 0; n < t.nibbles; ++n) {
    const int j = NibbleDim(shape, n);
    if (j < 0) continue;
    for (int v = 0; v < kTableEntries; ++v) {
      // A 4-bit nibble is its index; only dense 3-bit nibbles need the map.
      const int index = shape.dense3 ? NibbleIndex(shape, n, static_cast<unsigned>(v)) : v;
      t.values[n * kTableEntries + v] = double(rotated[j]) * centroids[index];
    }
  }
  return t;
}

// Several indices per nibble (1 or 2 bits), dims in order.
FloatTables PackedIndexTables(const std::vector<float>& rotated,
                              const std::vector<float>& centroids, int index_bits, size_t groups) {
  FloatTables t;
  t.nibbles = 2 * groups;
  t.values.assign(t.nibbles * kTableEntries, 0.0);
  const size_t dim = rotated.size();
  const int per_nibble = 4 / index_bits;
  const int mask = (1 << index_bits) - 1;
  for (size_t n = 0; n < t.nibbles; ++n) {
    for (int v = 0; v < kTableEntries; ++v) {
      double sum = 0.0;
      for (int i = 0; i < per_nibble; ++i) {
        const size_t j = n * per_nibble + i;
        if (j < dim) sum += double(rotated[j]) * centroids[(v >> (i * index_bits)) & mask];
      }
      t.values[n * kTableEntries + v] = sum;
    }
  }
  return t;
}

FloatTables MseTables(const CodeShape& shape, const std::vector<float>& rotated,
                      const std::vector<float>& centroids) {
  return shape.index_bits >= 3 ? NibblePerIndexTables(shape, rotated, centroids)
                               : PackedIndexTables(rotated, centroids, shape.index_bits,
                                                   shape.mse.groups);
}

FloatTables SignTables(const std::vector<float>& projected, size_t groups) {
  FloatTables t;
  t.nibbles = 2 * groups;
  t.values.assign(t.nibbles * kTableEntries, 0.0);
  const size_t dim = projected.size();
  for (size_t n = 0; n < t.nibbles; ++n) {
    for (int v = 0; v < kTableEntries; ++v) {
      double sum = 0.0;
      for (int i = 0; i < 4; ++i) {
        const size_t j = n * 4 + i;
        if (j < dim) sum += ((v >> i) & 1) ? double(projected[j]) : -double(projected[j]);
      }
      t.values[n * kTableEntries + v] = sum;
    }
  }
  return t;
}

// Quantizes `t` into the pair-interleaved u8 layout at `out` (groups * 32
// bytes) with entries 0..max_level; returns {delta, offset}.
std::pair<float, float> QuantizeTables(const FloatTables& t, int max_level, uint8_t* out) {
  std::vector<double> minimum(t.nibbles);
  double widest = 0.0, offset = 0.0;
  for (size_t n = 0; n < t.nibbles; ++n) {
    const double* v = &t.values[n * kTableEntries];
    const double lo = *std::min_element(v, v + kTableEntries);
    const double hi = *std::max_element(v, v + kTableEntries);
    minimum[n] = lo;
    offset += lo;
    widest = std::max(widest, hi - lo);
  }
  // One step for all tables so that u8 sums add up in the same unit.
  const double delta = widest > 0.0 ? widest / max_level : 1.0;
  for (size_t n = 0; n < t.nibbles; ++n) {
    // Nibble n = 2g + h of group g (h: 0 low, 1 high) sits in pair g / 2 at
    // 64 * (g / 2) + 32 * h + 16 * (g % 2).
    const size_t g = n / 2, h = n % 2;
    uint8_t* table = out + 64 * (g / 2) + 32 * h + 16 * (g % 2);
    for (int v = 0; v < kTableEntries; ++v) {
      const double q = RoundToNearestEven((t.values[n * kTableEntries + v] - minimum[n]) / delta);
      table[v] = static_cast<uint8_t>(std::clamp(q, 0.0, double(max_level)));
    }
  }
  return {static_cast<float>(delta), static_cast<float>(offset)};
}

// Symmetric int8 quantization: returns the scale s with round(x * s) in [-127, 127].
double Int8Scale(const float* x, size_t n) {
  double widest = 0.0;
  for (size_t i = 0; i < n; ++i) widest = std::max(widest, std::fabs(double(x[i])));
  return widest > 0.0 ? 127.0 / widest : 1.0;
}

int8_t ToInt8(double x) {
  return static_cast<int8_t>(std::clamp(RoundToNearestEven(x), -127.0, 127.0));
}

}  // namespace

// The int8 form of query q's rotated vector and its scales (query_tables.h,
// Int8Codebook), for a codebook quantized with `codebook_scale`.
void QuantizeQueryInt8(const std::vector<float>& rotated, double codebook_scale, size_t q,
                       QueryTables::Data* d) {
  const double query_scale = Int8Scale(rotated.data(), rotated.size());
  int8_t* q8 = d->int8_queries.get() + q * d->int8_query_bytes;
  int64_t sum = 0;
  for (size_t j = 0; j < d->int8_query_bytes; ++j) {
    const int dim = NibbleDim(d->shape, j);
    q8[j] = dim >= 0 ? ToInt8(rotated[dim] * query_scale) : 0;
    sum += q8[j];
  }
  d->scales[q].int8_delta = static_cast<float>(1.0 / (query_scale * codebook_scale));
  d->scales[q].int8_bias = static_cast<int32_t>(128 * sum);
}

QueryTables::QueryTables(const Codec& codec, const float* queries, size_t num_queries,
                         ScanObjective objective, TableForms forms)
    : data_(std::make_unique<Data>()) {
  Data& d = *data_;
  d.codec = &codec;
  d.shape = CodeShape(codec);
  d.objective = objective;
  d.num_queries = num_queries;
  d.prepared.resize(num_queries);
  d.scales.resize(num_queries);
  for (size_t q = 0; q < num_queries; ++q) {
    codec.PrepareQuery(queries + q * codec.dim(), &d.prepared[q]);
  }
  if (!d.shape.lookup_tables) return;

  const CodeShape& s = d.shape;
  d.table_bytes = s.groups * kBlockVectors;
  d.tables = hwy::AllocateAligned<uint8_t>(std::max<size_t>(1, num_queries * d.table_bytes));
  const std::vector<float>& centroids =
      codec.kind() == CodecKind::kMse
          ? static_cast<const MseCodec&>(codec).codebook().centroids()
          : static_cast<const ProdCodec&>(codec).codebook().centroids();
  const float qjl_scale =
      codec.kind() == CodecKind::kProd ? static_cast<const ProdCodec&>(codec).qjl_scale() : 0.0f;
  double codebook_scale = 0.0;
  if (s.index_bits == 3 || s.index_bits == 4) {
    d.int8_codebook.available = true;
    codebook_scale = Int8Scale(centroids.data(), centroids.size());
    for (int i = 0; i < 64; ++i) {
      const int8_t c8 = ToInt8(centroids[i % centroids.size()] * codebook_scale);
      d.int8_codebook.biased[i] = static_cast<uint8_t>(c8 + 128);
    }
  }
  const bool int8_scanned = d.int8_codebook.available && ScanPrefersInt8Dot();
  d.int8_mse = d.int8_codebook.available && (forms == TableForms::kAll || int8_scanned);
  d.u8_mse = forms == TableForms::kAll || !int8_scanned;
  if (d.int8_mse) {
    d.int8_query_bytes = 2 * s.mse.groups;
    d.int8_queries =
        hwy::AllocateAligned<int8_t>(std::max<size_t>(1, num_queries * d.int8_query_bytes));
  }
  for (size_t q = 0; q < num_queries; ++q) {
    if (d.int8_mse) QuantizeQueryInt8(d.prepared[q].rotated, codebook_scale, q, &d);
    uint8_t* out = d.tables.get() + q * d.table_bytes;
    if (d.u8_mse) {
      const auto [mse_delta, mse_offset] =
          QuantizeTables(MseTables(s, d.prepared[q].rotated, centroids), kMseTableMax, out);
      d.scales[q].mse_delta = mse_delta;
      d.scales[q].mse_offset = mse_offset;
    }
    if (s.signs) {
      const auto [sign_delta, sign_offset] = QuantizeTables(
          SignTables(d.prepared[q].projected, s.sign.groups), kSignTableMax,
          out + s.mse.groups * kBlockVectors);
      d.scales[q].sign_delta = sign_delta * qjl_scale;
      d.scales[q].sign_offset = sign_offset * qjl_scale;
    }
  }
}

QueryTables::~QueryTables() = default;
QueryTables::QueryTables(QueryTables&&) noexcept = default;
QueryTables& QueryTables::operator=(QueryTables&&) noexcept = default;

size_t QueryTables::num_queries() const { return data_->num_queries; }

}  // namespace turboquant::internal
