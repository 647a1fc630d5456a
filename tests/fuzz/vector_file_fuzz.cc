#include "tests/fuzz/vector_file_fuzz.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace turboquant::fuzz {
namespace {

// A broken contract is a bug like any sanitizer report: crash, saying which.
void Check(bool condition, const char* what, const std::string& path) {
  if (condition) return;
  std::fprintf(stderr, "vector file fuzzer: %s (%s)\n", what, path.c_str());
  std::abort();
}

// The input as a file named after this process, so parallel fuzzing jobs
// (-jobs, -fork) never share one; removed on destruction.
class TempFile {
 public:
  TempFile(const uint8_t* data, size_t size, const std::string& extension)
      : path_(absl::StrCat(std::filesystem::temp_directory_path().string(), "/tq_fuzz.",
                           ::getpid(), extension)) {
    FILE* file = std::fopen(path_.c_str(), "wb");
    if (file == nullptr) return;
    ok_ = std::fwrite(data, 1, size, file) == size;
    ok_ = std::fclose(file) == 0 && ok_;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  bool ok() const { return ok_; }

 private:
  const std::string path_;
  bool ok_ = false;
};

StatusOr<int64_t> ReadNext(VectorReader* reader, int64_t max_rows, std::vector<float>* out) {
  return reader->ReadRows(max_rows, out);
}

StatusOr<int64_t> ReadNext(VectorReader* reader, int64_t max_rows, std::vector<int64_t>* out) {
  return reader->ReadRowsInt64(max_rows, out);
}

// Every error must say which file it is about (io.h promises the prefix).
template <typename T>
StatusOr<T> Named(StatusOr<T> result, const std::string& path) {
  if (!result.ok()) {
    Check(absl::StartsWith(result.status().message(), path), "an error does not name the file",
          path);
  }
  return result;
}

// Reads the whole file through VectorReader, checking the contract of each call.
template <typename T>
StatusOr<RowMatrix<T>> Stream(const std::string& path, const VectorReaderOptions& options) {
  StatusOr<std::unique_ptr<VectorReader>> opened = Named(VectorReader::Open(path, options), path);
  if (!opened.ok()) return opened.status();
  VectorReader& reader = **opened;
  Check(reader.dim() >= 1 && reader.dim() <= kMaxVectorDim, "dimension out of range", path);
  Check(reader.rows() >= 0, "negative row count", path);
  RowMatrix<T> matrix;
  matrix.dim = reader.dim();
  // Odd batch sizes make reads resume in the middle of the reader's chunks.
  constexpr int64_t kBatches[] = {1, 7, 4096};
  for (int call = 0;; ++call) {
    const int64_t max_rows = kBatches[call % 3];
    const size_t before = matrix.data.size();
    StatusOr<int64_t> got = Named(ReadNext(&reader, max_rows, &matrix.data), path);
    if (!got.ok()) {
      Check(matrix.data.size() == before, "a failed read changed the output", path);
      Check(!ReadNext(&reader, 1, &matrix.data).ok(), "a failed reader read again", path);
      return got.status();
    }
    Check(*got >= 0 && *got <= max_rows, "read more rows than asked for", path);
    Check(matrix.data.size() == before + *got * matrix.dim, "appended values != rows * dim", path);
    matrix.rows += *got;
    Check(reader.rows_read() == matrix.rows, "rows_read() disagrees with the rows read", path);
    Check(matrix.rows <= reader.rows(), "read more rows than the header declares", path);
    if (*got == 0) break;
  }
  Check(matrix.rows == reader.rows(), "the reader stopped before the declared rows", path);
  return matrix;
}

template <typename T>
StatusOr<RowMatrix<T>> ReadWhole(const std::string& path, const VectorReaderOptions& options) {
  if constexpr (std::is_same_v<T, float>) {
    return Named(ReadVectors(path, options), path);
  } else {
    return Named(ReadIdRows(path, options), path);
  }
}

// The whole-file readers must agree with streaming, bit for bit.
template <typename T>
void CompareReads(const std::string& path, const VectorReaderOptions& options) {
  const StatusOr<RowMatrix<T>> streamed = Stream<T>(path, options);
  const StatusOr<RowMatrix<T>> whole = ReadWhole<T>(path, options);
  Check(streamed.ok() == whole.ok(), "ReadVectors/ReadIdRows and VectorReader disagree", path);
  if (!streamed.ok()) return;
  Check(streamed->rows == whole->rows && streamed->dim == whole->dim &&
            streamed->data.size() == whole->data.size() &&
            (whole->data.empty() ||
             std::memcmp(streamed->data.data(), whole->data.data(),
                         whole->data.size() * sizeof(T)) == 0),
        "ReadVectors/ReadIdRows returned other values than VectorReader", path);
}

}  // namespace

void FuzzVectorFile(const uint8_t* data, size_t size, const std::string& extension,
                    const VectorReaderOptions& options) {
  const TempFile file(data, size, extension);
  if (!file.ok()) return;
  CompareReads<float>(file.path(), options);
  CompareReads<int64_t>(file.path(), options);
}

}  // namespace turboquant::fuzz
