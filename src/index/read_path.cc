// The read path of TurboQuantIndex: Get, Contains and Search, each on the
// current snapshot, without locks.
#include <algorithm>

#include "src/index/index_impl.h"
#include "src/index/search_request.h"
#include "src/index/snapshot_search.h"

namespace turboquant {

StatusOr<std::vector<float>> TurboQuantIndex::Impl::Get(int64_t id) const {
  const internal::SnapshotRef snapshot = Current();
  const Segment* segment = nullptr;
  size_t row = 0;
  if (!snapshot->FindLive(id, &segment, &row)) {
    return absl::NotFoundError(absl::StrFormat("id %d is not in the index", id));
  }
  std::vector<float> vector(options_.dim);
  if (const float* original = segment->vector(row)) {
    std::copy(original, original + options_.dim, vector.begin());
    return vector;
  }
  std::vector<uint8_t> code(codec_->code_size());
  segment->layout().ExtractCode(row, code.data());
  codec_->DecodeOne(code.data(), vector.data());
  return vector;
}

bool TurboQuantIndex::Impl::Contains(int64_t id) const {
  const Segment* segment = nullptr;
  size_t row = 0;
  return Current()->FindLive(id, &segment, &row);
}

StatusOr<SearchResults> TurboQuantIndex::Impl::Search(absl::Span<const float> queries,
                                                      const SearchParams& params) const {
  const internal::SnapshotRef snapshot = Current();
  auto request = internal::MakeSearchRequest(options_, snapshot->live_count(), queries, params);
  if (!request.ok()) return request.status();
  return internal::SearchSnapshot(*snapshot, *codec_, options_, *request, params.filter);
}

}  // namespace turboquant
