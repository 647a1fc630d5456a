// Validation and batch entry points shared by MseCodec and ProdCodec.
#include <cmath>

#include "absl/strings/str_format.h"
#include "src/codec/encode_kernels.h"
#include "src/codec/encode_steps.h"
#include "turboquant/codec.h"

namespace turboquant {
namespace {

Status CheckBatch(const char* what, size_t values, size_t per_item, size_t* count) {
  if (per_item == 0 || values % per_item != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d values is not a whole number of rows of %d", what, values, per_item));
  }
  *count = values / per_item;
  return absl::OkStatus();
}

// Compares by division: count * per_item can wrap around in size_t, and a
// wrapped product would let a huge batch pass as a small one.
Status CheckOutputSize(const char* what, size_t got, size_t count, size_t per_item) {
  if (got % per_item != 0 || got / per_item != count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: output holds %d values, %d rows of %d are needed", what, got, count, per_item));
  }
  return absl::OkStatus();
}

// Branch-free test the compiler vectorizes; the slow search for the culprit
// runs only when it fails.
bool AllFinite(const float* row, int dim) {
  bool finite = true;
  for (int j = 0; j < dim; ++j) finite &= std::isfinite(row[j]);
  return finite;
}

Status CheckFinite(const float* row, int dim, size_t row_index) {
  if (AllFinite(row, dim)) return absl::OkStatus();
  for (int j = 0; j < dim; ++j) {
    if (!std::isfinite(row[j])) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "vector %d has a non-finite component %f at index %d", row_index, row[j], j));
    }
  }
  return absl::OkStatus();
}

}  // namespace

const char* CodecKindName(CodecKind kind) { return kind == CodecKind::kMse ? "mse" : "prod"; }

StatusOr<CodecKind> ParseCodecKind(const std::string& name) {
  if (name == "mse") return CodecKind::kMse;
  if (name == "prod") return CodecKind::kProd;
  return absl::InvalidArgumentError(
      absl::StrFormat("unknown codec '%s': expected 'mse' or 'prod'", name));
}

StatusOr<std::unique_ptr<Codec>> Codec::Create(CodecKind kind, const CodecOptions& options) {
  if (kind != CodecKind::kMse && kind != CodecKind::kProd) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown codec kind %d: expected kMse or kProd", static_cast<int>(kind)));
  }
  if (kind == CodecKind::kMse) {
    auto codec = MseCodec::Create(options);
    if (!codec.ok()) return codec.status();
    return std::unique_ptr<Codec>(std::move(*codec));
  }
  auto codec = ProdCodec::Create(options);
  if (!codec.ok()) return codec.status();
  return std::unique_ptr<Codec>(std::move(*codec));
}

Status Codec::Encode(absl::Span<const float> vectors, absl::Span<uint8_t> codes) const {
  size_t n;
  if (Status s = CheckBatch("Encode", vectors.size(), dim(), &n); !s.ok()) return s;
  if (Status s = CheckOutputSize("Encode", codes.size(), n, code_size()); !s.ok()) return s;
  // Validate every row first, so a bad row leaves no partial output, then
  // encode the whole batch in one call of the fused kernel.
  for (size_t i = 0; i < n; ++i) {
    if (Status s = CheckFinite(vectors.data() + i * dim(), dim(), i); !s.ok()) return s;
  }
  internal::EncodeRows(*this, vectors.data(), n, codes.data());
  return absl::OkStatus();
}

Status Codec::Decode(absl::Span<const uint8_t> codes, absl::Span<float> vectors) const {
  size_t n;
  if (Status s = CheckBatch("Decode", codes.size(), code_size(), &n); !s.ok()) return s;
  if (Status s = CheckOutputSize("Decode", vectors.size(), n, dim()); !s.ok()) return s;
  for (size_t i = 0; i < n; ++i) DecodeOne(codes.data() + i * code_size(), vectors.data() + i * dim());
  return absl::OkStatus();
}

Status Codec::EstimateInnerProducts(absl::Span<const float> query, absl::Span<const uint8_t> codes,
                                    absl::Span<float> scores) const {
  if (query.size() != static_cast<size_t>(dim())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("query has dimension %d, the codec expects %d", query.size(), dim()));
  }
  if (Status s = CheckFinite(query.data(), dim(), 0); !s.ok()) return s;
  size_t n;
  if (Status s = CheckBatch("EstimateInnerProducts", codes.size(), code_size(), &n); !s.ok()) {
    return s;
  }
  if (Status s = CheckOutputSize("EstimateInnerProducts", scores.size(), n, 1); !s.ok()) return s;
  PreparedQuery prepared;
  PrepareQuery(query.data(), &prepared);
  for (size_t i = 0; i < n; ++i) {
    scores[i] = EstimateInnerProduct(prepared, codes.data() + i * code_size());
  }
  return absl::OkStatus();
}

float Codec::EstimateInnerProduct(const float* query, const uint8_t* code) const {
  PreparedQuery prepared;
  PrepareQuery(query, &prepared);
  return EstimateInnerProduct(prepared, code);
}

float Codec::StoredNorm(const uint8_t* code) const {
  return internal::LoadNorm(code + code_size());
}

namespace internal {

Status ValidateCodecOptions(const CodecOptions& options, int min_bits, const char* codec_name) {
  if (options.dim < Codec::kMinDim || options.dim > Codec::kMaxDim) {
    return absl::InvalidArgumentError(absl::StrFormat("dim %d is out of range: must be %d..%d",
                                                      options.dim, Codec::kMinDim, Codec::kMaxDim));
  }
  if (options.bits < min_bits || options.bits > Codebook::kMaxBits) {
    return absl::InvalidArgumentError(absl::StrFormat("bits %d is out of range for %s: must be %d..%d",
                                                      options.bits, codec_name, min_bits,
                                                      Codebook::kMaxBits));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace turboquant
