// HDF5 input through this library's own HDF5 reader (hdf5_file.h,
// hdf5_objects.h, hdf5_dataset.h), not libhdf5: libhdf5 1.10 trusts the
// structures of the files it opens, and hdf5_fuzzer kept finding inputs that
// made it read out of bounds or loop without end. Every read here is checked
// against the file.
#include "src/io/hdf5.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "src/io/element.h"
#include "src/io/file_error.h"
#include "src/io/hdf5_dataset.h"
#include "src/io/hdf5_objects.h"
#include "src/io/layout.h"

namespace turboquant::io {
namespace {

// "a, b" or "(none)", for messages that list what a file has.
std::string RootDatasets(const hdf5::File& file) {
  const std::vector<std::string> names = hdf5::RootDatasetNames(file);
  return names.empty() ? "(none)" : absl::StrJoin(names, ", ");
}

class Hdf5Reader final : public VectorReader {
 public:
  Hdf5Reader(std::string path, std::string where, hdf5::Dataset dataset,
             VectorReaderOptions options)
      : path_(std::move(path)),
        where_(std::move(where)),
        dataset_(std::move(dataset)),
        type_(dataset_.element_type()),
        rows_(dataset_.rows()),
        dim_(dataset_.dim()),
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
    if (!IsIntegerType(type_)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where_, ": holds ", ElementTypeName(type_),
                       " values, which cannot be read as integer ids"));
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
        status =
            Decode(chunk_.data() + i * row_bytes, next_row_ + i, out->data() + base + i * dim_);
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
    const size_t bytes = static_cast<size_t>(count) * dataset_.row_bytes();
    if (chunk_.size() < bytes) chunk_.resize(bytes);
    return dataset_.ReadRows(next_row_, count, chunk_.data());
  }

  Status Decode(const char* row, int64_t index, float* dst) const {
    return Report(index, row, DecodeToFloat(type_, row, dim_, options_.allow_non_finite, dst));
  }
  Status Decode(const char* row, int64_t index, int64_t* dst) const {
    return Report(index, row, DecodeToInt64(type_, row, dim_, dst));
  }

  Status Report(int64_t index, const char* row, int64_t column) const {
    if (column < 0) return absl::OkStatus();
    const char* value = row + column * ElementSize(type_);
    return InvalidFile(where_,
                       absl::StrFormat("row %d, column %d: value %s %s", index, column,
                                       StoredValueText(type_, value), DecodeProblem(type_, value)));
  }

  const std::string path_;
  const std::string where_;  // "file.hdf5 dataset 'train'", the prefix of messages
  hdf5::Dataset dataset_;
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
  StatusOr<hdf5::File> file = hdf5::File::Open(path);
  if (!file.ok()) return file.status();
  const std::string& name = options.hdf5_dataset;
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no HDF5 dataset name given; the file has: ", RootDatasets(*file)));
  }
  StatusOr<uint64_t> object = hdf5::FindObject(*file, name);
  if (absl::IsNotFound(object.status())) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no dataset '", name, "'; the file has: ", RootDatasets(*file)));
  }
  if (!object.ok()) return object.status();
  const std::string where = absl::StrCat(path, " dataset '", name, "'");
  StatusOr<std::vector<hdf5::Message>> header = hdf5::ReadObjectHeader(*file, *object);
  if (!header.ok()) return header.status();
  if (hdf5::FindMessage(*header, hdf5::kLayoutMessage) == nullptr) {
    return InvalidFile(
        where, absl::StrCat("is not a dataset; the file's datasets: ", RootDatasets(*file)));
  }
  StatusOr<hdf5::Dataset> dataset = hdf5::Dataset::Open(*std::move(file), *header, where);
  if (!dataset.ok()) return dataset.status();
  return std::unique_ptr<VectorReader>(new Hdf5Reader(path, where, *std::move(dataset), options));
}

}  // namespace turboquant::io
