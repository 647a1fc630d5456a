// A validated search call: queries prepared for the metric, and the
// candidate depths of each stage.
#ifndef TURBOQUANT_SRC_INDEX_SEARCH_REQUEST_H_
#define TURBOQUANT_SRC_INDEX_SEARCH_REQUEST_H_

#include <vector>

#include "absl/types/span.h"
#include "turboquant/index.h"

namespace turboquant::internal {

struct SearchRequest {
  size_t num_queries = 0;
  std::vector<float> queries;  // normalized for the cosine metric
  size_t k = 0;
  size_t rescore = 0;  // candidates taken from the SIMD scan (>= k, >= rerank)
  size_t rerank = 0;   // exact re-rank depth (0 = none)
  int threads = 1;
};

// Checks dimension, finiteness, k and the re-rank options; `count` is the
// number of vectors in the index.
StatusOr<SearchRequest> MakeSearchRequest(const IndexOptions& options, int64_t count,
                                          absl::Span<const float> queries,
                                          const SearchParams& params);

// Scales every row of `vectors` (dim wide) to unit length; zero rows stay zero.
void NormalizeRows(int dim, std::vector<float>* vectors);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_SEARCH_REQUEST_H_
