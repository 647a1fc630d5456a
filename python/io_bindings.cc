// turboquant.read_vectors / read_ids: the library's dataset readers
// (include/turboquant/io.h): .fvecs .ivecs .bvecs .fbin .u8bin .ibin .npy,
// IDX and HDF5 (.hdf5/.h5, by dataset name).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <utility>

#include "python/bindings.h"
#include "turboquant/io.h"

namespace turboquant::python {
namespace {

std::string PathOf(const py::object& path) {
  return py::str(py::module_::import("os").attr("fspath")(path)).cast<std::string>();
}

// A file that exists but lacks the HDF5 dataset is a KeyError, as in h5py; a
// missing file is FileNotFoundError.
void ThrowReadError(const Status& status, const std::string& path) {
  if (status.code() == absl::StatusCode::kNotFound &&
      py::module_::import("os").attr("path").attr("exists")(path).cast<bool>()) {
    RaiseStatus(status, NotFoundAs::kKeyError);
  }
  ThrowIfError(status);
}

}  // namespace

void RegisterIo(py::module_& m) {
  m.def(
      "read_vectors",
      [](const py::object& path_object, const std::string& dataset, bool allow_non_finite) {
        VectorReaderOptions options;
        options.hdf5_dataset = dataset;
        options.allow_non_finite = allow_non_finite;
        const std::string path = PathOf(path_object);
        StatusOr<Matrix> matrix;
        {
          py::gil_scoped_release release;
          matrix = ReadVectors(path, options);
        }
        ThrowReadError(matrix.status(), path);
        const py::ssize_t rows = matrix->rows, dim = matrix->dim;
        return OwningArray(std::move(matrix->data), {rows, dim});
      },
      py::arg("path"), py::arg("dataset") = "train", py::arg("allow_non_finite") = false,
      "Reads a vector file as float32 (rows, dim); the format follows the extension. "
      "dataset names the array of an HDF5 file.");
  m.def(
      "read_ids",
      [](const py::object& path_object, const std::string& dataset) {
        VectorReaderOptions options;
        options.hdf5_dataset = dataset;
        const std::string path = PathOf(path_object);
        StatusOr<IdMatrix> matrix;
        {
          py::gil_scoped_release release;
          matrix = ReadIdRows(path, options);
        }
        ThrowReadError(matrix.status(), path);
        const py::ssize_t rows = matrix->rows, dim = matrix->dim;
        return OwningArray(std::move(matrix->data), {rows, dim});
      },
      py::arg("path"), py::arg("dataset") = "neighbors",
      "Reads an integer file (ground truth, ids) as int64 (rows, dim); dataset names the "
      "array of an HDF5 file.");
}

}  // namespace turboquant::python
