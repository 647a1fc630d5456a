// The `turboquant` Python module: see python/README.md for the API and
// bindings.h for the array policy every function follows.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "python/bindings.h"
#include "turboquant/index.h"

namespace turboquant::python {
namespace {

PyObject* data_loss_error = nullptr;

// Converts via np.asarray for objects that are not arrays yet (lists).
py::array AsArray(const py::handle& object) {
  if (py::isinstance<py::array>(object)) return py::reinterpret_borrow<py::array>(object);
  return py::module_::import("numpy").attr("asarray")(object).cast<py::array>();
}

std::string ExpectedShapeText(const std::vector<py::ssize_t>& shape) {
  static const char* kNames[] = {"n", "m", "p"};
  std::vector<std::string> parts;
  for (size_t i = 0; i < shape.size(); ++i) {
    parts.push_back(shape[i] < 0 ? kNames[i % 3] : std::to_string(shape[i]));
  }
  return absl::StrCat("(", absl::StrJoin(parts, ", "), shape.size() == 1 ? ",)" : ")");
}

std::vector<py::ssize_t> ShapeOf(const py::array& array) {
  return std::vector<py::ssize_t>(array.shape(), array.shape() + array.ndim());
}

void CheckShape(const py::array& array, const char* name,
                const std::vector<py::ssize_t>& required) {
  const std::vector<py::ssize_t> shape = ShapeOf(array);
  bool ok = shape.size() == required.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = required[i] < 0 || required[i] == shape[i];
  if (!ok) {
    throw py::value_error(absl::StrCat(name, " must have shape ", ExpectedShapeText(required),
                                       ", got ", ShapeText(shape)));
  }
}

void CheckContiguous(const py::array& array, const char* name) {
  if (!(array.flags() & py::array::c_style)) {
    throw py::value_error(absl::StrCat(name, " is not C-contiguous (a transposed or strided "
                                             "view); pass np.ascontiguousarray(",
                                       name, ")"));
  }
}

}  // namespace

std::string DtypeName(const py::array& array) { return py::str(array.dtype()).cast<std::string>(); }

std::string ShapeText(const std::vector<py::ssize_t>& shape) {
  std::vector<std::string> parts;
  for (py::ssize_t s : shape) parts.push_back(std::to_string(s));
  return absl::StrCat("(", absl::StrJoin(parts, ", "), shape.size() == 1 ? ",)" : ")");
}

void RaiseStatus(const absl::Status& status, NotFoundAs not_found) {
  const std::string message(status.message());
  PyObject* type = PyExc_RuntimeError;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      type = PyExc_ValueError;
      break;
    case absl::StatusCode::kNotFound:
      type = not_found == NotFoundAs::kKeyError ? PyExc_KeyError : PyExc_FileNotFoundError;
      break;
    case absl::StatusCode::kAlreadyExists:
      type = PyExc_FileExistsError;
      break;
    case absl::StatusCode::kPermissionDenied:
      type = PyExc_PermissionError;
      break;
    case absl::StatusCode::kUnimplemented:
      type = PyExc_NotImplementedError;
      break;
    case absl::StatusCode::kResourceExhausted:
      type = PyExc_MemoryError;
      break;
    case absl::StatusCode::kDataLoss:
      type = data_loss_error;
      break;
    default:
      break;
  }
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

void RegisterExceptions(py::module_& m) {
  static py::exception<std::runtime_error> error(m, "DataLossError", PyExc_RuntimeError);
  error.doc() =
      "A file of an index or a dataset is damaged (checksum mismatch, truncation); the message "
      "names the file.";
  data_loss_error = error.ptr();
}

FloatMatrix FloatArray(const py::handle& object, const char* name,
                       const std::vector<py::ssize_t>& required_shape) {
  py::array array = AsArray(object);
  const char kind = array.dtype().kind();
  if (kind != 'f') {
    throw py::type_error(absl::StrCat(name, " must be a float32 array, got dtype ",
                                      DtypeName(array), "; convert it with ", name,
                                      ".astype(np.float32)"));
  }
  CheckShape(array, name, required_shape);
  CheckContiguous(array, name);
  FloatMatrix matrix;
  // float32 in native byte order passes through; float64/float16 (or
  // byte-swapped float32) are converted into a new float32 array.
  matrix.array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!matrix.array) throw py::error_already_set();
  matrix.shape = ShapeOf(matrix.array);
  return matrix;
}

py::array_t<int64_t, py::array::c_style> IdArray(const py::handle& object, const char* name) {
  py::array array = AsArray(object);
  if (array.size() == 0) return py::array_t<int64_t, py::array::c_style>(0);
  const char kind = array.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(absl::StrCat(name, " must hold integers (int64 ids), got dtype ",
                                      DtypeName(array)));
  }
  if (array.ndim() == 0) array = array.attr("reshape")(1).cast<py::array>();
  if (array.ndim() != 1) {
    throw py::value_error(absl::StrCat(name, " must be 1-D, got shape ", ShapeText(ShapeOf(array))));
  }
  if (kind == 'u' && array.dtype().itemsize() == 8) {
    // uint64 beyond int64 would wrap to a negative id; numpy says so itself.
    py::object max = array.attr("max")();
    if (max.cast<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      throw py::value_error(absl::StrCat(name, " holds an id beyond the int64 range"));
    }
  }
  auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!ids) throw py::error_already_set();
  return ids;
}

py::array_t<uint8_t, py::array::c_style> CodeArray(const py::handle& object, const char* name,
                                                   size_t code_size) {
  py::array array = AsArray(object);
  if (!array.dtype().is(py::dtype::of<uint8_t>())) {
    throw py::type_error(absl::StrCat(name, " must be a uint8 array of codes, got dtype ",
                                      DtypeName(array)));
  }
  CheckShape(array, name, {-1, static_cast<py::ssize_t>(code_size)});
  CheckContiguous(array, name);
  return py::array_t<uint8_t, py::array::c_style>::ensure(array);
}

}  // namespace turboquant::python

PYBIND11_MODULE(turboquant, m) {
  namespace tp = turboquant::python;
  m.doc() =
      "TurboQuant: data-oblivious vector quantization (MSE / inner-product codecs), an "
      "approximate top-k index over the codes, and a compressed KV cache.\n\n"
      "Arrays: float32 C-contiguous inputs are used in place; float64/float16 inputs are "
      "converted to float32 (a copy); other dtypes raise TypeError, non-contiguous views "
      "raise ValueError. Library errors keep their messages: invalid arguments raise "
      "ValueError, missing ids KeyError, missing files FileNotFoundError, damaged files "
      "turboquant.DataLossError.";
  m.attr("__version__") = "0.1.0";
  m.attr("DEFAULT_CODEC") = turboquant::CodecKindName(turboquant::kDefaultIndexCodec);
  tp::RegisterExceptions(m);
  tp::RegisterFilter(m);
  tp::RegisterIndex(m);
  tp::RegisterCodecs(m);
  tp::RegisterKvCache(m);
  tp::RegisterIo(m);
}
