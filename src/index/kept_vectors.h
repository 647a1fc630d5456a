// The kept float vectors of a segment's rows (IndexOptions::keep_vectors).
//
// A chunk of writes and a sealed file hold theirs in one array. A merged
// chunk, and a segment about to be written to its file, share runs of rows
// with the segments they were built from instead of copying them: at d=768 a
// kept vector is 3 KB, eight times its 4-bit code, and copying it on every
// chunk merge and again for the seal was a third of the CPU time of 768-d
// online writes (perf, 2-core machine).
#ifndef TURBOQUANT_SRC_INDEX_KEPT_VECTORS_H_
#define TURBOQUANT_SRC_INDEX_KEPT_VECTORS_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "absl/types/span.h"

namespace turboquant::internal {

class KeptVectors {
 public:
  KeptVectors() = default;  // no rows
  // `rows` vectors of `dim` floats at `data`, kept alive by `owner` (null
  // when the segment holding this object keeps them alive, as a file does).
  KeptVectors(const float* data, size_t rows, size_t dim, std::shared_ptr<const void> owner);
  // Vectors of `dim` floats, owned by the result.
  static KeptVectors Own(std::vector<float> vectors, size_t dim);

  bool empty() const { return runs_.empty(); }
  size_t rows() const { return rows_; }
  const float* row(size_t r) const {
    const Run& run = runs_.size() == 1 ? runs_[0] : RunOf(r);
    return run.data + (r - run.first_row) * dim_;
  }

  // Appends `rows` vectors of `dim` floats at `data`, kept alive by `owner`.
  void Append(const float* data, size_t rows, size_t dim, std::shared_ptr<const void> owner);
  // Appends rows [first, end) of `from`, sharing its storage. `holder` keeps
  // alive what `from`'s runs without an owner point into (the segment that
  // holds `from`).
  void AppendShared(const KeptVectors& from, size_t first, size_t end,
                    const std::shared_ptr<const void>& holder);
  // Appends rows [first, end) to *out.
  void CopyRows(size_t first, size_t end, std::vector<float>* out) const;

  // The rows in order, as few spans as they are stored in.
  std::vector<absl::Span<const float>> Spans() const;

 private:
  struct Run {
    size_t first_row;
    size_t rows;
    const float* data;
    std::shared_ptr<const void> owner;
  };
  const Run& RunOf(size_t r) const;
  // Calls fn(data, rows) for the stretches of rows [first, end) of this
  // object, each inside one run.
  template <typename Fn>
  void ForEachStretch(size_t first, size_t end, Fn fn) const;

  size_t dim_ = 0;
  size_t rows_ = 0;
  std::vector<Run> runs_;
};

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_KEPT_VECTORS_H_
