// Timing the searches of tqindex query, bench and demo: one batch call over
// all queries (throughput) and single-query calls on one thread (latency).
#ifndef TURBOQUANT_TOOLS_SEARCH_TIMING_H_
#define TURBOQUANT_TOOLS_SEARCH_TIMING_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace tqindex {

struct Latency {
  double median_ms = 0;
  double p99_ms = 0;
  int64_t samples = 0;
};

// Times `samples` single-query searches (the first queries, one thread each).
absl::StatusOr<Latency> MeasureLatency(const turboquant::TurboQuantIndex& index,
                                       const turboquant::Matrix& queries,
                                       turboquant::SearchParams params, int64_t samples);

struct TimedResults {
  turboquant::SearchResults results;
  double seconds = 0;
};
// One batch Search call over all queries, timed.
absl::StatusOr<TimedResults> TimedSearch(const turboquant::TurboQuantIndex& index,
                                         const turboquant::Matrix& queries,
                                         const turboquant::SearchParams& params);

struct SearchMeasurement {
  turboquant::SearchResults results;  // of the batch call
  double qps = 0;                     // queries per second of the batch call
  Latency latency;
};
// TimedSearch, then MeasureLatency with `latency_samples` queries.
absl::StatusOr<SearchMeasurement> MeasureSearch(const turboquant::TurboQuantIndex& index,
                                                const turboquant::Matrix& queries,
                                                const turboquant::SearchParams& params,
                                                int64_t latency_samples);

}  // namespace tqindex

#endif  // TURBOQUANT_TOOLS_SEARCH_TIMING_H_
