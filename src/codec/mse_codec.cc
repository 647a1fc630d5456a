// MseCodec: rotated direction quantized with the b-bit Lloyd-Max codebook.
//
// Inner products use length renormalization: with u the unit direction, u_hat
// its reconstruction and the estimate <q, x> ~ <q, u_hat> * s, the stored scale
// s = ||x|| / <u_hat, u> makes the estimate exact for q = x and removes most
// of the shrinkage bias that <q, ||x|| u_hat> has (E<u_hat, u> = ||u_hat||^2 < 1).
#include "absl/strings/str_format.h"
#include "src/codec/bitpack.h"
#include "src/codec/encode_kernels.h"
#include "src/codec/encode_steps.h"
#include "src/util/fixed_order_sum.h"
#include "src/util/random.h"
#include "turboquant/codec.h"

namespace turboquant {

using internal::CodecScratch;

MseCodec::MseCodec(const CodecOptions& options, std::shared_ptr<const internal::Rotation> rotation,
                   std::shared_ptr<const internal::Codebook> codebook)
    : Codec(options, internal::PackedSize(options.dim, options.bits) + 8),
      rotation_(std::move(rotation)),
      codebook_(std::move(codebook)) {}

StatusOr<std::unique_ptr<MseCodec>> MseCodec::Create(int dim, int bits, uint64_t seed) {
  CodecOptions options;
  options.dim = dim;
  options.bits = bits;
  options.seed = seed;
  return Create(options);
}

StatusOr<std::unique_ptr<MseCodec>> MseCodec::Create(const CodecOptions& options) {
  if (Status s = internal::ValidateCodecOptions(options, 1, "mse"); !s.ok()) return s;
  auto rotation = internal::Rotation::Create(options.rotation, options.dim,
                                             internal::DeriveSeed(options.seed, 0));
  if (!rotation.ok()) return rotation.status();
  return std::unique_ptr<MseCodec>(new MseCodec(
      options, std::move(*rotation), internal::Codebook::Get(options.dim, options.bits)));
}

void MseCodec::EncodeOne(const float* vector, uint8_t* code) const {
  internal::EncodeRows(*this, vector, 1, code);
}

void MseCodec::DecodeOne(const uint8_t* code, float* vector) const {
  CodecScratch& s = CodecScratch::ForThread(dim());
  internal::UnpackBits(code, dim(), bits(), s.indices.data());
  internal::LookupCentroids(*codebook_, s.indices.data(), dim(), s.reconstructed.data());
  rotation_->ApplyTranspose(s.reconstructed.data(), vector);
  const float norm = internal::LoadNorm(code + code_size());
  for (int i = 0; i < dim(); ++i) vector[i] *= norm;
}

void MseCodec::PrepareQuery(const float* query, PreparedQuery* prepared) const {
  prepared->rotated.resize(dim());
  rotation_->Apply(query, prepared->rotated.data());
}

float MseCodec::EstimateInnerProduct(const PreparedQuery& prepared, const uint8_t* code) const {
  CodecScratch& s = CodecScratch::ForThread(dim());
  internal::UnpackBits(code, dim(), bits(), s.indices.data());
  internal::LookupCentroids(*codebook_, s.indices.data(), dim(), s.reconstructed.data());
  const float scale = internal::LoadSecondScalar(code + code_size());
  return internal::FixedOrderDot(prepared.rotated.data(), s.reconstructed.data(), dim()) * scale;
}

}  // namespace turboquant
