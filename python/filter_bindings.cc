// turboquant.Filter: which ids Index.search may return (turboquant::Filter,
// include/turboquant/filter.h), with the same meaning as in C++: an empty
// allow set matches nothing, an empty exclude set matches everything.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "python/bindings.h"
#include "turboquant/filter.h"

namespace turboquant::python {
namespace {

// The filter and how it was made, for repr().
struct PyFilter {
  Filter filter;
  std::string description;
};

absl::Span<const int64_t> IdSpan(const py::array_t<int64_t, py::array::c_style>& ids) {
  return absl::Span<const int64_t>(ids.data(), static_cast<size_t>(ids.size()));
}

PyFilter IdFilter(const py::handle& ids_object, bool allow) {
  py::array_t<int64_t, py::array::c_style> ids = IdArray(ids_object, "ids");
  const std::string what = absl::StrCat(allow ? "allow" : "exclude", " ", ids.size(), " ids");
  return {allow ? Filter::AllowOnly(IdSpan(ids)) : Filter::Exclude(IdSpan(ids)), what};
}

// Bit i of the result is set when flags[i] is true: the C++ bitmap layout
// (bit i % 64 of word i / 64).
std::vector<uint64_t> PackBools(const py::array& flags) {
  auto bools = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(flags);
  const bool* data = bools.data();
  std::vector<uint64_t> words((static_cast<size_t>(bools.size()) + 63) / 64, 0);
  for (size_t i = 0; i < static_cast<size_t>(bools.size()); ++i) {
    if (data[i]) words[i / 64] |= uint64_t{1} << (i % 64);
  }
  return words;
}

PyFilter BitmapFilter(const py::handle& object) {
  py::array array = py::module_::import("numpy").attr("asarray")(object).cast<py::array>();
  const bool is_bool = array.dtype().kind() == 'b';
  if (!is_bool && !array.dtype().is(py::dtype::of<uint64_t>())) {
    throw py::type_error(absl::StrCat(
        "bitmap must be a uint64 array of words (id i is bit i % 64 of word i // 64) or a bool "
        "array with one entry per id, got dtype ",
        DtypeName(array)));
  }
  if (array.ndim() != 1) {
    const std::vector<py::ssize_t> shape(array.shape(), array.shape() + array.ndim());
    throw py::value_error(absl::StrCat("bitmap must be 1-D, got shape ", ShapeText(shape)));
  }
  std::vector<uint64_t> words;
  if (is_bool) {
    words = PackBools(array);
  } else {
    auto view = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>::ensure(array);
    words.assign(view.data(), view.data() + view.size());
  }
  const std::string what = absl::StrCat("bitmap over the first ", words.size() * 64, " ids");
  auto shared = std::make_shared<const std::vector<uint64_t>>(std::move(words));
  return {Filter::FromBitmap(std::move(shared)), what};
}

}  // namespace

Filter SearchFilter(const py::handle& filter) {
  if (filter.is_none()) return Filter();
  if (py::isinstance<PyFilter>(filter)) return filter.cast<const PyFilter&>().filter;
  py::array_t<int64_t, py::array::c_style> ids = IdArray(filter, "filter");
  return Filter::AllowOnly(IdSpan(ids));
}

void RegisterFilter(py::module_& m) {
  py::class_<PyFilter>(m, "Filter", R"doc(
Which ids Index.search(..., filter=...) may return. Make one with
Filter.allow, Filter.exclude or Filter.bitmap; the ids or words are copied
once, so one Filter can serve many searches. The meaning is the C++
library's: an empty allow set matches nothing, an empty exclude set matches
every id, and filter=None does not filter at all.
)doc")
      .def_static(
          "allow", [](const py::handle& ids) { return IdFilter(ids, /*allow=*/true); },
          py::arg("ids"),
          "Matches the listed ids only (any integer sequence or array); an empty list matches "
          "nothing. Index.search(filter=ids) means the same.")
      .def_static(
          "exclude", [](const py::handle& ids) { return IdFilter(ids, /*allow=*/false); },
          py::arg("ids"), "Matches every id except the listed ones.")
      .def_static("bitmap", &BitmapFilter, py::arg("bits"),
                  R"doc(Matches the ids whose bit is set. bits: a bool array with one entry per
id (bits[i] for id i), or a uint64 array of words where id i is bit i % 64
of word i // 64. Ids past the end do not match.)doc")
      .def("__repr__", [](const PyFilter& self) {
        return absl::StrCat("<turboquant.Filter ", self.description, ">");
      });
}

}  // namespace turboquant::python
