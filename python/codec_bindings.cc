// turboquant.MseCodec / ProdCodec (include/turboquant/codec.h) on numpy arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "python/bindings.h"
#include "turboquant/codec.h"

namespace turboquant::python {
namespace {

RotationKind ParseRotation(const std::string& name) {
  if (name == "hadamard") return RotationKind::kHadamard;
  if (name == "dense") return RotationKind::kDenseOrthogonal;
  throw py::value_error(
      absl::StrFormat("unknown rotation '%s': expected 'hadamard' or 'dense'", name));
}

CodecOptions MakeCodecOptions(int dim, int bits, std::optional<uint64_t> seed,
                              const std::string& rotation) {
  CodecOptions options;
  options.dim = dim;
  options.bits = bits;
  if (seed.has_value()) options.seed = *seed;
  options.rotation = ParseRotation(rotation);
  return options;
}

py::array_t<uint8_t> Encode(const Codec& codec, const py::handle& x) {
  FloatMatrix rows = FloatArray(x, "x", {-1, codec.dim()});
  const py::ssize_t n = rows.shape[0];
  const py::ssize_t code_size = static_cast<py::ssize_t>(codec.code_size());
  py::array_t<uint8_t> codes({n, code_size});
  Status status;
  {
    py::gil_scoped_release release;
    status = codec.Encode(rows.span(),
                          absl::Span<uint8_t>(codes.mutable_data(), static_cast<size_t>(n * code_size)));
  }
  ThrowIfError(status);
  return codes;
}

py::array_t<float> Decode(const Codec& codec, const py::handle& codes_object) {
  py::array_t<uint8_t, py::array::c_style> codes = CodeArray(codes_object, "codes", codec.code_size());
  const py::ssize_t n = codes.shape(0);
  py::array_t<float> x({n, static_cast<py::ssize_t>(codec.dim())});
  Status status;
  {
    py::gil_scoped_release release;
    status = codec.Decode(absl::Span<const uint8_t>(codes.data(), codes.size()),
                          absl::Span<float>(x.mutable_data(), x.size()));
  }
  ThrowIfError(status);
  return x;
}

py::array_t<float> Score(const Codec& codec, const py::handle& query, const py::handle& codes_object) {
  FloatMatrix q = FloatArray(query, "query", {codec.dim()});
  py::array_t<uint8_t, py::array::c_style> codes = CodeArray(codes_object, "codes", codec.code_size());
  const py::ssize_t n = codes.shape(0);
  py::array_t<float> scores(n);
  Status status;
  {
    py::gil_scoped_release release;
    status = codec.EstimateInnerProducts(q.span(),
                                         absl::Span<const uint8_t>(codes.data(), codes.size()),
                                         absl::Span<float>(scores.mutable_data(), n));
  }
  ThrowIfError(status);
  return scores;
}

template <typename T>
std::shared_ptr<T> MakeCodec(int dim, int bits, std::optional<uint64_t> seed,
                             const std::string& rotation) {
  StatusOr<std::unique_ptr<T>> codec = T::Create(MakeCodecOptions(dim, bits, seed, rotation));
  ThrowIfError(codec.status());
  return std::shared_ptr<T>(std::move(*codec));
}

}  // namespace

void RegisterCodecs(py::module_& m) {
  py::class_<Codec, std::shared_ptr<Codec>>(m, "Codec", R"doc(
Base of MseCodec and ProdCodec: data-oblivious codes of code_size bytes per
vector, determined by (dim, bits, seed, rotation) alone.)doc")
      .def("encode", &Encode, py::arg("x"),
           "Encodes (n, dim) vectors (float32; float64 is converted) into a uint8 array of "
           "shape (n, code_size). NaN/Inf components raise ValueError naming row and column.")
      .def("decode", &Decode, py::arg("codes"),
           "Reconstructs (n, dim) float32 vectors from (n, code_size) uint8 codes.")
      .def("score", &Score, py::arg("query"), py::arg("codes"),
           "The codec's float estimate of <query, x> for every code: query (dim,), codes "
           "(n, code_size) -> float32 (n,).")
      .def_property_readonly("dim", &Codec::dim)
      .def_property_readonly("bits", &Codec::bits)
      .def_property_readonly("code_size", &Codec::code_size)
      .def_property_readonly("seed", [](const Codec& c) { return c.options().seed; })
      .def_property_readonly("kind", [](const Codec& c) { return CodecKindName(c.kind()); })
      .def_property_readonly("rotation",
                             [](const Codec& c) {
                               return c.options().rotation == RotationKind::kHadamard ? "hadamard"
                                                                                      : "dense";
                             })
      .def("__repr__", [](const Codec& c) {
        return absl::StrFormat("<turboquant.%s dim=%d bits=%d code_size=%d>",
                               c.kind() == CodecKind::kMse ? "MseCodec" : "ProdCodec", c.dim(),
                               c.bits(), c.code_size());
      });

  py::class_<MseCodec, Codec, std::shared_ptr<MseCodec>>(m, "MseCodec", R"doc(
MseCodec(dim, bits=4, seed=None, rotation="hadamard"): bits-bit Lloyd-Max index
per rotated coordinate + norm + length-renormalized inner-product scale.
bits 1..8; rotation "hadamard" (default) or "dense" (dim <= 4096).)doc")
      .def(py::init(&MakeCodec<MseCodec>), py::arg("dim"), py::arg("bits") = 4,
           py::arg("seed") = py::none(), py::arg("rotation") = "hadamard");

  py::class_<ProdCodec, Codec, std::shared_ptr<ProdCodec>>(m, "ProdCodec", R"doc(
ProdCodec(dim, bits=4, seed=None, rotation="hadamard"): (bits-1)-bit MSE index
+ 1 QJL sign bit per coordinate; unbiased inner-product estimates. bits 2..8.)doc")
      .def(py::init(&MakeCodec<ProdCodec>), py::arg("dim"), py::arg("bits") = 4,
           py::arg("seed") = py::none(), py::arg("rotation") = "hadamard");
}

}  // namespace turboquant::python
