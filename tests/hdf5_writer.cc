#include "tests/hdf5_writer.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/io/element.h"
#include "src/io/file_error.h"

namespace turboquant::testing {
namespace {

// Silences HDF5's automatic error printing for one scope of this thread.
class QuietHdf5Errors {
 public:
  QuietHdf5Errors() {
    H5Eget_auto2(H5E_DEFAULT, &saved_function_, &saved_data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5Errors() { H5Eset_auto2(H5E_DEFAULT, saved_function_, saved_data_); }
  QuietHdf5Errors(const QuietHdf5Errors&) = delete;
  QuietHdf5Errors& operator=(const QuietHdf5Errors&) = delete;

 private:
  H5E_auto2_t saved_function_ = nullptr;
  void* saved_data_ = nullptr;
};

// Owns an hid_t and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept {
    std::swap(id_, other.id_);
    std::swap(closer_, other.closer_);
    return *this;
  }
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// The innermost (most specific) description on this thread's error stack.
std::string Hdf5ErrorText() {
  std::string text;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* data) -> herr_t {
        if (error->desc != nullptr && error->desc[0] != '\0') {
          *static_cast<std::string*>(data) = error->desc;
        }
        return 0;
      },
      &text);
  return text.empty() ? "unknown HDF5 error" : text;
}

Status Hdf5Failure(const std::string& path, absl::string_view action) {
  return io::CorruptFile(path, absl::StrCat(action, " failed: ", Hdf5ErrorText()));
}

}  // namespace

Status WriteHdf5Dataset(const std::string& path, const std::string& name, ElementType type,
                        int64_t rows, int dim, absl::Span<const float> values) {
  if (rows < 0 || dim < 1 || values.size() != static_cast<size_t>(rows) * dim) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: %d values are not rows x dim = %d x %d",
                                                      path, values.size(), rows, dim));
  }
  // Any float fits float32, NaN included (tests write non-finite files).
  const int64_t unfit =
      type == ElementType::kFloat32
          ? -1
          : io::FirstUnfit(type, values.data(), static_cast<int64_t>(values.size()));
  if (unfit >= 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s dataset '%s': row %d, column %d: value %s does not fit %s (%s)", path,
                        name, unfit / dim, unfit % dim, io::FloatText(values[unfit]),
                        ElementTypeName(type), io::ExactRange(type)));
  }
  std::vector<char> stored(values.size() * io::ElementSize(type));
  io::Encode(type, values.data(), static_cast<int64_t>(values.size()), stored.data());

  QuietHdf5Errors quiet;
  struct stat info;
  const bool exists = ::stat(path.c_str(), &info) == 0;
  Handle file(exists ? H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                     : H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT),
              H5Fclose);
  if (!file.valid()) return Hdf5Failure(path, exists ? "opening for writing" : "creating");
  if (H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) > 0 &&
      H5Ldelete(file.get(), name.c_str(), H5P_DEFAULT) < 0) {
    return Hdf5Failure(path, absl::StrCat("replacing dataset '", name, "'"));
  }
  const hid_t stored_type = type == ElementType::kFloat32 ? H5T_IEEE_F32LE
                            : type == ElementType::kUint8 ? H5T_STD_U8LE
                                                          : H5T_STD_I32LE;
  const hsize_t shape[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(dim)};
  Handle space(H5Screate_simple(2, shape, nullptr), H5Sclose);
  Handle dataset(H5Dcreate2(file.get(), name.c_str(), stored_type, space.get(), H5P_DEFAULT,
                            H5P_DEFAULT, H5P_DEFAULT),
                 H5Dclose);
  if (!space.valid() || !dataset.valid()) {
    return Hdf5Failure(path, absl::StrCat("creating dataset '", name, "'"));
  }
  if (H5Dwrite(dataset.get(), stored_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, stored.data()) < 0) {
    return Hdf5Failure(path, absl::StrCat("writing dataset '", name, "'"));
  }
  dataset = Handle();
  if (H5Fflush(file.get(), H5F_SCOPE_LOCAL) < 0) return Hdf5Failure(path, "flushing");
  return absl::OkStatus();
}

}  // namespace turboquant::testing
