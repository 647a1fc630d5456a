// Top-k search over one snapshot: SIMD scan of every segment for candidates,
// float re-scoring of the best, optional exact re-rank, top k.
#ifndef TURBOQUANT_SRC_INDEX_SNAPSHOT_SEARCH_H_
#define TURBOQUANT_SRC_INDEX_SNAPSHOT_SEARCH_H_

#include "src/index/search_request.h"
#include "src/index/snapshot.h"
#include "turboquant/index.h"

namespace turboquant::internal {

SearchResults SearchSnapshot(const Snapshot& snapshot, const Codec& codec,
                             const IndexOptions& options, const SearchRequest& request,
                             const Filter& filter);

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_SNAPSHOT_SEARCH_H_
