#include "tools/search_timing.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "tools/collection_util.h"

namespace tqindex {

using turboquant::Matrix;
using turboquant::SearchParams;
using turboquant::SearchResults;
using turboquant::TurboQuantIndex;

absl::StatusOr<Latency> MeasureLatency(const TurboQuantIndex& index, const Matrix& queries,
                                       SearchParams params, int64_t samples) {
  params.threads = 1;
  samples = std::min(samples, queries.rows);
  std::vector<double> ms;
  ms.reserve(samples);
  for (int64_t i = 0; i < samples; ++i) {
    const Clock::time_point start = Clock::now();
    absl::StatusOr<SearchResults> results = index.Search(queries.row(i), params);
    ms.push_back(1000 * SecondsSince(start));
    if (!results.ok()) return results.status();
  }
  Latency latency;
  latency.samples = samples;
  if (samples == 0) return latency;
  std::sort(ms.begin(), ms.end());
  latency.median_ms = ms[ms.size() / 2];
  latency.p99_ms = ms[std::min(ms.size() - 1, static_cast<size_t>(std::ceil(0.99 * ms.size())) - 1)];
  return latency;
}

absl::StatusOr<TimedResults> TimedSearch(const TurboQuantIndex& index, const Matrix& queries,
                                         const SearchParams& params) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<SearchResults> results = index.Search(queries.data, params);
  const double seconds = SecondsSince(start);
  if (!results.ok()) return results.status();
  return TimedResults{std::move(*results), seconds};
}

absl::StatusOr<SearchMeasurement> MeasureSearch(const TurboQuantIndex& index,
                                                const Matrix& queries, const SearchParams& params,
                                                int64_t latency_samples) {
  TQINDEX_ASSIGN_OR_RETURN(TimedResults batch, TimedSearch(index, queries, params));
  SearchMeasurement measurement;
  TQINDEX_ASSIGN_OR_RETURN(measurement.latency,
                           MeasureLatency(index, queries, params, latency_samples));
  measurement.qps = PerSecond(queries.rows, batch.seconds);
  measurement.results = std::move(batch.results);
  return measurement;
}

}  // namespace tqindex
