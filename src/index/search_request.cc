#include "src/index/search_request.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "src/index/parallel.h"

namespace turboquant::internal {

void NormalizeRows(int dim, std::vector<float>* vectors) {
  for (size_t start = 0; start < vectors->size(); start += dim) {
    float* row = vectors->data() + start;
    double sum = 0;
    for (int j = 0; j < dim; ++j) sum += static_cast<double>(row[j]) * row[j];
    if (sum == 0) continue;
    const float inverse = static_cast<float>(1.0 / std::sqrt(sum));
    for (int j = 0; j < dim; ++j) row[j] *= inverse;
  }
}

StatusOr<SearchRequest> MakeSearchRequest(const IndexOptions& options, int64_t count,
                                          absl::Span<const float> queries,
                                          const SearchParams& params) {
  const size_t dim = static_cast<size_t>(options.dim);
  if (queries.empty() || queries.size() % dim != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "queries hold %d floats, which is not a positive multiple of the index dimension %d",
        queries.size(), dim));
  }
  if (params.k <= 0 || params.k > kMaxSearchK) {
    return absl::InvalidArgumentError(
        absl::StrFormat("k must be positive and at most %d, got %d", kMaxSearchK, params.k));
  }
  if (count > 0 && params.k > count && params.filter.matches_all()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("k = %d exceeds the %d vectors in the index", params.k, count));
  }
  if (params.rescore < 0 || params.rerank < 0 || params.threads < 0) {
    return absl::InvalidArgumentError("rescore, rerank and threads must not be negative");
  }
  if (params.rescore > kMaxCandidates || params.rerank > kMaxCandidates ||
      params.threads > kMaxSearchThreads) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "rescore and rerank must be at most %d and threads at most %d (got %d, %d, %d)",
        kMaxCandidates, kMaxSearchThreads, params.rescore, params.rerank, params.threads));
  }
  if (static_cast<int64_t>(queries.size() / dim) > kMaxResultSlots / params.k) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d queries x k %d exceed the %d result slots one Search may return; split the batch",
        queries.size() / dim, params.k, kMaxResultSlots));
  }
  if (params.rerank > 0 && !options.keep_vectors) {
    return absl::FailedPreconditionError(
        "rerank needs the original vectors: create the index with keep_vectors");
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    if (!std::isfinite(queries[i])) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "query %d has a non-finite component %f at index %d", i / dim, queries[i], i % dim));
    }
  }
  SearchRequest request;
  request.num_queries = queries.size() / dim;
  request.queries.assign(queries.begin(), queries.end());
  if (options.metric == Metric::kCosine) NormalizeRows(options.dim, &request.queries);
  request.k = static_cast<size_t>(params.k);
  request.rerank = static_cast<size_t>(params.rerank);
  const size_t rescore = params.rescore > 0 ? params.rescore : std::max(4 * params.k, 64);
  request.rescore = std::max({rescore, request.k, request.rerank});
  request.threads = ResolveThreads(params.threads);
  return request;
}

}  // namespace turboquant::internal
