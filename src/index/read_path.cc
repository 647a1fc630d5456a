// The read path of TurboQuantIndex: Get and Contains (through the id map) and
// Search (on the current snapshot, without locks).
#include <algorithm>

#include "src/index/index_impl.h"
#include "src/index/search_request.h"
#include "src/index/snapshot_search.h"

namespace turboquant {

StatusOr<std::vector<float>> TurboQuantIndex::Impl::Get(int64_t id) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  EnsureLocations();
  auto it = locations_.find(id);
  if (it == locations_.end())
    return absl::NotFoundError(absl::StrFormat("id %d is not in the index", id));
  const Segment& segment = *it->second.segment;
  std::vector<float> vector(options_.dim);
  if (const float* original = segment.vector(it->second.row, options_.dim)) {
    std::copy(original, original + options_.dim, vector.begin());
    return vector;
  }
  std::vector<uint8_t> code(codec_->code_size());
  segment.layout().ExtractCode(it->second.row, code.data());
  codec_->DecodeOne(code.data(), vector.data());
  return vector;
}

bool TurboQuantIndex::Impl::Contains(int64_t id) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  EnsureLocations();
  return locations_.contains(id);
}

StatusOr<SearchResults> TurboQuantIndex::Impl::Search(absl::Span<const float> queries,
                                                      const SearchParams& params) const {
  const internal::SnapshotRef snapshot = Current();
  auto request = internal::MakeSearchRequest(options_, snapshot->live_count(), queries, params);
  if (!request.ok()) return request.status();
  return internal::SearchSnapshot(*snapshot, *codec_, options_, *request, params.filter);
}

}  // namespace turboquant
