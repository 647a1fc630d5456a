// Shared helpers of the turboquant Python module: absl::Status to Python
// exceptions, and checked views of numpy arrays.
//
// Array policy (the same for every function of the module):
//   * float32, C-contiguous: used in place, never copied.
//   * float64 / float16, C-contiguous: converted to float32 (one copy), so
//     that np.random.rand(...) works without .astype; the conversion is
//     documented on every function that takes vectors.
//   * any other dtype (integers, bool, complex, object): TypeError.
//   * not C-contiguous (a transposed or strided view): ValueError that says
//     to call np.ascontiguousarray; a copy is never made silently because of
//     layout.
//   * wrong number of dimensions or a dimension that does not match: ValueError.
//   * NaN / Inf components: ValueError with the library's message (row, column).
// Outputs are new numpy arrays that own the library's result buffers (no copy).
#ifndef TURBOQUANT_PYTHON_BINDINGS_H_
#define TURBOQUANT_PYTHON_BINDINGS_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "turboquant/filter.h"

namespace turboquant::python {

namespace py = pybind11;

// What NotFound means for the call that got it.
enum class NotFoundAs { kKeyError, kFileNotFoundError };

// Raises the Python exception for a failed status, with status.message() as
// the message: InvalidArgument/OutOfRange/FailedPrecondition -> ValueError,
// NotFound -> KeyError or FileNotFoundError, AlreadyExists -> FileExistsError,
// PermissionDenied -> PermissionError, Unimplemented -> NotImplementedError,
// ResourceExhausted -> MemoryError, DataLoss -> turboquant.DataLossError (a
// RuntimeError), anything else -> RuntimeError.
[[noreturn]] void RaiseStatus(const absl::Status& status, NotFoundAs not_found);

inline void ThrowIfError(const absl::Status& status,
                         NotFoundAs not_found = NotFoundAs::kFileNotFoundError) {
  if (!status.ok()) RaiseStatus(status, not_found);
}

// Registers turboquant.DataLossError on the module.
void RegisterExceptions(py::module_& m);

// A read-only float32 view of a C-contiguous array, converting float64/float16
// (see the policy above). `name` is the argument's name in messages.
// ndim: 2 for (rows, cols), 1 for (cols,), 3 for (a, b, c). A required size
// of -1 means any.
struct FloatMatrix {
  py::array_t<float, py::array::c_style> array;  // keeps the data alive
  std::vector<py::ssize_t> shape;
  const float* data() const { return array.data(); }
  size_t size() const { return static_cast<size_t>(array.size()); }
  absl::Span<const float> span() const { return absl::Span<const float>(data(), size()); }
};
FloatMatrix FloatArray(const py::handle& object, const char* name,
                       const std::vector<py::ssize_t>& required_shape);

// A 1-D int64 array of ids from any integer array-like (lists too): int64
// C-contiguous arrays are used in place; other integer dtypes are widened.
// Floats and other dtypes are a TypeError.
py::array_t<int64_t, py::array::c_style> IdArray(const py::handle& object, const char* name);

// A C-contiguous uint8 array of codes with `code_size` columns (2-D), or a
// single code (1-D, read as one row when allow_1d).
py::array_t<uint8_t, py::array::c_style> CodeArray(const py::handle& object, const char* name,
                                                   size_t code_size);

// A numpy array of `shape` that takes ownership of *values (no copy).
template <typename T>
py::array_t<T> OwningArray(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(std::move(shape), owned->data(), free_when_done);
}

// "float64", "(3, 4)", for messages.
std::string DtypeName(const py::array& array);
std::string ShapeText(const std::vector<py::ssize_t>& shape);

// The filter= argument of Index.search: None (no filter), a turboquant.Filter,
// or any integer sequence or array of ids, which allows only those ids (an
// empty one allows nothing).
Filter SearchFilter(const py::handle& filter);

void RegisterFilter(py::module_& m);
void RegisterIndex(py::module_& m);
void RegisterCodecs(py::module_& m);
void RegisterKvCache(py::module_& m);
void RegisterIo(py::module_& m);

}  // namespace turboquant::python

#endif  // TURBOQUANT_PYTHON_BINDINGS_H_
