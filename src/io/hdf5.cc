// HDF5 reading through the HDF5 C library (Debian libhdf5-dev). HDF5 keeps
// its own error stack and prints it to stderr by default; every call here
// runs with printing turned off (per thread: Debian's library is built
// thread-safe) and turns a failure into a Status that names the file, the
// dataset and what failed.
#include "src/io/hdf5.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/io/element.h"
#include "src/io/file_error.h"
#include "src/io/hdf5_precheck.h"
#include "src/io/layout.h"

namespace turboquant::io {
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
  return CorruptFile(path, absl::StrCat(action, " failed: ", Hdf5ErrorText()));
}

// The datasets directly under the root group, for error messages ("a, b" or
// "(none)"). Only hard links are looked at: the others may lead to other files.
std::string RootDatasets(hid_t file) {
  std::vector<std::string> names;
  H5Literate(
      file, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t group, const char* name, const H5L_info_t* link, void* data) -> herr_t {
        H5O_info_t info;
        if (link->type == H5L_TYPE_HARD &&
            H5Oget_info_by_name(group, name, &info, H5P_DEFAULT) >= 0 &&
            info.type == H5O_TYPE_DATASET) {
          static_cast<std::vector<std::string>*>(data)->push_back(name);
        }
        return 0;
      },
      &names);
  return names.empty() ? "(none)" : absl::StrJoin(names, ", ");
}

// An external link names another file, which an untrusted file must not make
// the reader open: refuse to traverse it.
herr_t RefuseExternalLink(const char*, const char*, const char*, const char*, unsigned*, hid_t,
                          void*) {
  return -1;
}

// Opens the dataset `name`, following links only within the file.
StatusOr<Handle> OpenDataset(const std::string& path, hid_t file, const std::string& name,
                             const std::string& where) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no HDF5 dataset name given; the file has: ", RootDatasets(file)));
  }
  Handle access(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  if (!access.valid() || H5Pset_elink_cb(access.get(), RefuseExternalLink, nullptr) < 0) {
    return Hdf5Failure(where, "setting up link access");
  }
  H5L_info_t link;
  if (H5Lexists(file, name.c_str(), access.get()) <= 0 ||
      H5Lget_info(file, name.c_str(), &link, access.get()) < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no dataset '", name,
                                            "'; the file has: ", RootDatasets(file)));
  }
  if (link.type == H5L_TYPE_EXTERNAL) {
    return InvalidFile(where, "is an external link to another file, which is not followed");
  }
  Handle dataset(H5Dopen2(file, name.c_str(), access.get()), H5Dclose);
  if (!dataset.valid()) {
    return InvalidFile(where, absl::StrCat("is not a dataset (", Hdf5ErrorText(),
                                           "); the file's datasets: ", RootDatasets(file)));
  }
  return dataset;
}

// The library's element type for an HDF5 stored type, and the in-memory type
// HDF5 converts it to (little endian, as io/element.h decodes). Only HDF5's
// predefined types qualify, not merely ones of the right class and size: a
// file may declare, say, a 4-byte integer of 24608 bits' precision, which
// libhdf5 1.10 converts by reading far past each value (hdf5_fuzzer).
StatusOr<std::pair<ElementType, hid_t>> ElementTypeOf(const std::string& where, hid_t type) {
  const struct {
    ElementType element;
    hid_t little_endian, big_endian;
  } kStandardTypes[] = {
      {ElementType::kFloat32, H5T_IEEE_F32LE, H5T_IEEE_F32BE},
      {ElementType::kUint8, H5T_STD_U8LE, H5T_STD_U8BE},
      {ElementType::kInt32, H5T_STD_I32LE, H5T_STD_I32BE},
  };
  for (const auto& standard : kStandardTypes) {
    if (H5Tequal(type, standard.little_endian) > 0 || H5Tequal(type, standard.big_endian) > 0) {
      return std::make_pair(standard.element, standard.little_endian);
    }
  }
  const H5T_class_t type_class = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  std::string name;
  if (type_class == H5T_FLOAT) {
    name = absl::StrCat(8 * size, "-bit float");
  } else if (type_class == H5T_INTEGER) {
    name = absl::StrCat(H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned " : "signed ", 8 * size,
                        "-bit integer");
  } else {
    name = absl::StrCat("HDF5 type class ", static_cast<int>(type_class));
  }
  if ((type_class == H5T_FLOAT || type_class == H5T_INTEGER) && (size == 1 || size == 4)) {
    absl::StrAppend(&name, " (non-standard: precision ", H5Tget_precision(type),
                    " bits at bit offset ", H5Tget_offset(type), ")");
  }
  return InvalidFile(where, absl::StrCat("holds ", name,
                                         " values; supported are float32, uint8 and int32 "
                                         "(convert it, e.g. with h5py: data.astype('float32'))"));
}

struct Shape {
  uint64_t rows = 0;
  int dim = 1;
};

// A 2-D dataset is (rows, dim); a 1-D one is rows of dim 1.
StatusOr<Shape> ShapeOf(const std::string& where, hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 1 || rank > 2) {
    return InvalidFile(where, absl::StrCat("has ", rank,
                                           " dimensions; vectors need 2 (rows, dim) or 1 "
                                           "(rows, read as dim 1)"));
  }
  hsize_t dims[2] = {0, 1};
  if (H5Sget_simple_extent_dims(space, dims, nullptr) < 0) {
    return Hdf5Failure(where, "reading the shape");
  }
  Status dim_ok = CheckDim(where, static_cast<int64_t>(dims[1]), "the dataset's shape");
  if (!dim_ok.ok()) return dim_ok;
  return Shape{dims[0], static_cast<int>(dims[1])};
}

// Deflate, the compression filter every libhdf5 has, shrinks data at most
// 1032:1; more declared values than that per stored byte is a corrupt header.
constexpr uint64_t kMaxCompressionRatio = 1032;

// libhdf5 reads a whole chunk at a time into a buffer of the declared chunk
// shape and trusts the stored chunk to fill it: chunks larger than the fixed
// shape (which the format forbids) or than the stored bytes could hold made
// libhdf5 1.10 copy past its buffers (hdf5_fuzzer).
Status CheckChunks(const std::string& where, hid_t plist, hid_t space, uint64_t capacity,
                   uint64_t element_bytes) {
  hsize_t chunk[H5S_MAX_RANK];
  hsize_t dims[H5S_MAX_RANK];
  hsize_t max_dims[H5S_MAX_RANK];
  const int rank = H5Sget_simple_extent_dims(space, dims, max_dims);
  if (H5Pget_chunk(plist, H5S_MAX_RANK, chunk) != rank) {
    return CorruptFile(where, "its chunks have another number of dimensions than its shape");
  }
  uint64_t chunk_bytes = element_bytes;
  for (int axis = 0; axis < rank; ++axis) {
    if (chunk[axis] == 0 || (max_dims[axis] != H5S_UNLIMITED && chunk[axis] > max_dims[axis]) ||
        chunk[axis] > capacity / chunk_bytes) {
      return CorruptFile(where, absl::StrFormat("chunk size %d along axis %d does not fit a "
                                                "shape of %d or %d stored bytes",
                                                chunk[axis], axis, dims[axis], capacity));
    }
    chunk_bytes *= chunk[axis];
  }
  return absl::OkStatus();
}

// libhdf5 returns the fill value for whatever a file does not store, so a
// 2 KB file may declare a dataset of terabytes: streaming it would not end
// and ReadVectors would reserve it. The stored bytes must lie in the file and
// hold the declared shape (filtered chunks: as far as compression can), so
// that rows * row_bytes is bounded by the file size before anyone trusts it.
// Values kept in other files (external storage, virtual datasets) would let
// an untrusted file make the reader read those, so they are refused.
Status CheckStorage(const std::string& where, hid_t dataset, hid_t space, uint64_t file_bytes,
                    const Shape& shape, uint64_t element_bytes) {
  Handle plist(H5Dget_create_plist(dataset), H5Pclose);
  if (!plist.valid()) return Hdf5Failure(where, "reading the storage layout");
  const H5D_layout_t layout = H5Pget_layout(plist.get());
  if (layout == H5D_VIRTUAL || H5Pget_external_count(plist.get()) != 0) {
    return InvalidFile(where, "keeps its values in other files (a virtual dataset or external "
                              "storage), which are not read");
  }
  const uint64_t stored = H5Dget_storage_size(dataset);
  if (stored > file_bytes) {
    return CorruptFile(where, absl::StrFormat("claims %d bytes of storage in a %d-byte file",
                                              stored, file_bytes));
  }
  const bool filtered = layout == H5D_CHUNKED && H5Pget_nfilters(plist.get()) > 0;
  const uint64_t capacity = filtered ? stored * kMaxCompressionRatio : stored;
  const uint64_t row_bytes = shape.dim * element_bytes;
  // Dividing first keeps a huge declared row count from overflowing.
  const bool fits = shape.rows <= capacity / row_bytes;
  const bool exact = layout == H5D_CHUNKED || (fits && shape.rows * row_bytes == stored);
  if (!fits || !exact) {
    return CorruptFile(where, absl::StrFormat("declares %d rows of %d bytes, but stores %d bytes "
                                              "%sfor them",
                                              shape.rows, row_bytes, stored,
                                              filtered ? "(compressed) " : ""));
  }
  if (shape.rows == 0) return absl::OkStatus();  // nothing will be read
  if (layout == H5D_CHUNKED) return CheckChunks(where, plist.get(), space, capacity, element_bytes);
  if (layout != H5D_CONTIGUOUS) return absl::OkStatus();
  const haddr_t offset = H5Dget_offset(dataset);
  if (offset == HADDR_UNDEF || offset > file_bytes - stored) {
    return CorruptFile(where, absl::StrFormat("its %d bytes at offset %d lie beyond the end of the "
                                              "%d-byte file",
                                              stored, offset, file_bytes));
  }
  return absl::OkStatus();
}

class Hdf5Reader final : public VectorReader {
 public:
  Hdf5Reader(std::string path, std::string where, Handle file, Handle dataset, Handle file_space,
             hid_t memory_type, ElementType type, int64_t rows, int dim,
             VectorReaderOptions options)
      : path_(std::move(path)),
        where_(std::move(where)),
        file_(std::move(file)),
        dataset_(std::move(dataset)),
        file_space_(std::move(file_space)),
        memory_type_(memory_type),
        type_(type),
        rows_(rows),
        dim_(dim),
        options_(std::move(options)) {}

  const std::string& path() const override { return path_; }
  int dim() const override { return dim_; }
  int64_t rows() const override { return rows_; }
  ElementType element_type() const override { return type_; }
  int64_t rows_read() const override { return next_row_; }

  StatusOr<int64_t> ReadRows(int64_t max_rows, std::vector<float>* out) override {
    return ReadConverted(max_rows, out);
  }

  StatusOr<int64_t> ReadRowsInt64(int64_t max_rows, std::vector<int64_t>* out) override {
    if (type_ == ElementType::kFloat32) {
      return absl::InvalidArgumentError(
          absl::StrCat(where_, ": holds float32 values, which cannot be read as integer ids"));
    }
    return ReadConverted(max_rows, out);
  }

 private:
  template <typename T>
  StatusOr<int64_t> ReadConverted(int64_t max_rows, std::vector<T>* out) {
    if (!failure_.ok()) return failure_;
    if (max_rows < 0) {
      return absl::InvalidArgumentError(absl::StrCat(where_, ": max_rows ", max_rows, " < 0"));
    }
    const size_t old_size = out->size();
    const int64_t wanted = std::min(max_rows, rows_ - next_row_);
    const size_t row_bytes = static_cast<size_t>(dim_) * ElementSize(type_);
    const int64_t chunk_rows = std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / row_bytes));
    Status status;
    for (int64_t done = 0; done < wanted && status.ok();) {
      const int64_t count = std::min(chunk_rows, wanted - done);
      status = ReadChunk(count);
      if (!status.ok()) break;
      const size_t base = out->size();
      out->resize(base + count * dim_);
      for (int64_t i = 0; i < count && status.ok(); ++i) {
        status = Decode(chunk_.data() + i * row_bytes, next_row_ + i, out->data() + base + i * dim_);
      }
      if (!status.ok()) break;
      next_row_ += count;
      done += count;
    }
    if (!status.ok()) {
      out->resize(old_size);
      failure_ = status;
      return status;
    }
    return wanted;
  }

  // Reads rows next_row_ .. next_row_ + count - 1 into chunk_.
  Status ReadChunk(int64_t count) {
    QuietHdf5Errors quiet;
    const size_t bytes = static_cast<size_t>(count) * dim_ * ElementSize(type_);
    if (chunk_.size() < bytes) chunk_.resize(bytes);
    const hsize_t start[2] = {static_cast<hsize_t>(next_row_), 0};
    const hsize_t extent[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(dim_)};
    const int rank = H5Sget_simple_extent_ndims(file_space_.get());
    herr_t selected = H5Sselect_hyperslab(file_space_.get(), H5S_SELECT_SET, start, nullptr,
                                          extent, nullptr);
    Handle memory_space(H5Screate_simple(rank, extent, nullptr), H5Sclose);
    if (selected < 0 || !memory_space.valid() ||
        H5Dread(dataset_.get(), memory_type_, memory_space.get(), file_space_.get(), H5P_DEFAULT,
                chunk_.data()) < 0) {
      return CorruptFile(where_, absl::StrFormat("reading rows %d..%d failed: %s", next_row_,
                                                 next_row_ + count - 1, Hdf5ErrorText()));
    }
    return absl::OkStatus();
  }

  Status Decode(const char* row, int64_t index, float* dst) const {
    return Report(index, row, DecodeToFloat(type_, row, dim_, options_.allow_non_finite, dst));
  }
  Status Decode(const char* row, int64_t index, int64_t* dst) const {
    return Report(index, row, DecodeToInt64(type_, row, dim_, dst));
  }

  Status Report(int64_t index, const char* row, int64_t column) const {
    if (column < 0) return absl::OkStatus();
    const std::string value = StoredValueText(type_, row + column * ElementSize(type_));
    const std::string problem =
        type_ == ElementType::kFloat32
            ? "is not finite (set VectorReaderOptions::allow_non_finite to read it)"
            : "is beyond 2^24 in magnitude, so float cannot hold it exactly";
    return InvalidFile(where_,
                       absl::StrFormat("row %d, column %d: value %s %s", index, column, value,
                                       problem));
  }

  const std::string path_;
  const std::string where_;  // "file.hdf5 dataset 'train'", the prefix of messages
  Handle file_;
  Handle dataset_;
  Handle file_space_;
  const hid_t memory_type_;
  const ElementType type_;
  const int64_t rows_;
  const int dim_;
  const VectorReaderOptions options_;
  int64_t next_row_ = 0;
  std::vector<char> chunk_;
  Status failure_;
};

}  // namespace

StatusOr<std::unique_ptr<VectorReader>> OpenHdf5Reader(const std::string& path,
                                                       const VectorReaderOptions& options) {
  // HDF5's own message for a missing file is vague; stat says exactly.
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return SystemError(path, "open", errno);
  if (S_ISDIR(info.st_mode)) return InvalidFile(path, "is a directory, not an HDF5 file");

  QuietHdf5Errors quiet;
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    return InvalidFile(path, "not an HDF5 file (no HDF5 signature)");
  }
  Status prechecked = PrecheckHdf5File(path);
  if (!prechecked.ok()) return prechecked;
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) return Hdf5Failure(path, "opening the HDF5 file");

  const std::string where = absl::StrCat(path, " dataset '", options.hdf5_dataset, "'");
  StatusOr<Handle> dataset = OpenDataset(path, file.get(), options.hdf5_dataset, where);
  if (!dataset.ok()) return dataset.status();
  Handle type(H5Dget_type(dataset->get()), H5Tclose);
  if (!type.valid()) return Hdf5Failure(where, "reading the type");
  StatusOr<std::pair<ElementType, hid_t>> element = ElementTypeOf(where, type.get());
  if (!element.ok()) return element.status();
  Handle space(H5Dget_space(dataset->get()), H5Sclose);
  if (!space.valid()) return Hdf5Failure(where, "reading the shape");
  StatusOr<Shape> shape = ShapeOf(where, space.get());
  if (!shape.ok()) return shape.status();
  Status stored = CheckStorage(where, dataset->get(), space.get(),
                               static_cast<uint64_t>(info.st_size), *shape,
                               ElementSize(element->first));
  if (!stored.ok()) return stored;
  return std::unique_ptr<VectorReader>(new Hdf5Reader(
      path, where, std::move(file), std::move(*dataset), std::move(space), element->second,
      element->first, static_cast<int64_t>(shape->rows), shape->dim, options));
}

Status WriteHdf5Dataset(const std::string& path, const std::string& name, ElementType type,
                        int64_t rows, int dim, absl::Span<const float> values) {
  if (rows < 0 || dim < 1 || values.size() != static_cast<size_t>(rows) * dim) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: %d values are not rows x dim = %d x %d", path, values.size(), rows, dim));
  }
  // Any float fits float32, NaN included (tests write non-finite files).
  const int64_t unfit = type == ElementType::kFloat32
                            ? -1
                            : FirstUnfit(type, values.data(), static_cast<int64_t>(values.size()));
  if (unfit >= 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s dataset '%s': row %d, column %d: value %s does not fit %s (%s)", path,
                        name, unfit / dim, unfit % dim, FloatText(values[unfit]),
                        ElementTypeName(type), ExactRange(type)));
  }
  std::vector<char> stored(values.size() * ElementSize(type));
  Encode(type, values.data(), static_cast<int64_t>(values.size()), stored.data());

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

}  // namespace turboquant::io
