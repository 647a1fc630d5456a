#include "src/index/kept_vectors.h"

#include <algorithm>
#include <utility>

namespace turboquant::internal {

KeptVectors::KeptVectors(const float* data, size_t rows, size_t dim,
                         std::shared_ptr<const void> owner) {
  Append(data, rows, dim, std::move(owner));
}

KeptVectors KeptVectors::Own(std::vector<float> vectors, size_t dim) {
  const size_t rows = vectors.size() / dim;
  auto owner = std::make_shared<const std::vector<float>>(std::move(vectors));
  const float* data = owner->data();
  return KeptVectors(data, rows, dim, std::move(owner));
}

const KeptVectors::Run& KeptVectors::RunOf(size_t r) const {
  const auto after =
      std::upper_bound(runs_.begin(), runs_.end(), r,
                       [](size_t row, const Run& run) { return row < run.first_row; });
  return *(after - 1);
}

template <typename Fn>
void KeptVectors::ForEachStretch(size_t first, size_t end, Fn fn) const {
  while (first < end) {
    const Run& run = RunOf(first);
    const size_t take = std::min(end, run.first_row + run.rows) - first;
    fn(run, run.data + (first - run.first_row) * dim_, take);
    first += take;
  }
}

void KeptVectors::AppendShared(const KeptVectors& from, size_t first, size_t end,
                               const std::shared_ptr<const void>& holder) {
  from.ForEachStretch(first, end, [&](const Run& run, const float* data, size_t rows) {
    Append(data, rows, from.dim_, run.owner != nullptr ? run.owner : holder);
  });
}

void KeptVectors::CopyRows(size_t first, size_t end, std::vector<float>* out) const {
  ForEachStretch(first, end, [&](const Run&, const float* data, size_t rows) {
    out->insert(out->end(), data, data + rows * dim_);
  });
}

void KeptVectors::Append(const float* data, size_t rows, size_t dim,
                         std::shared_ptr<const void> owner) {
  if (rows == 0) return;
  dim_ = dim;
  // Rows that continue the last run in the same storage extend it.
  if (!runs_.empty()) {
    Run& last = runs_.back();
    if (last.owner == owner && last.data + last.rows * dim_ == data) {
      last.rows += rows;
      rows_ += rows;
      return;
    }
  }
  runs_.push_back({rows_, rows, data, std::move(owner)});
  rows_ += rows;
}

std::vector<absl::Span<const float>> KeptVectors::Spans() const {
  std::vector<absl::Span<const float>> spans;
  spans.reserve(runs_.size());
  for (const Run& run : runs_) spans.emplace_back(run.data, run.rows * dim_);
  return spans;
}

}  // namespace turboquant::internal
