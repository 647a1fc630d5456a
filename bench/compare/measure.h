// One row of the comparison, and the measurements every method goes through the same way.
#ifndef TURBOQUANT_BENCH_COMPARE_MEASURE_H_
#define TURBOQUANT_BENCH_COMPARE_MEASURE_H_

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "bench/compare/dataset.h"

namespace tqbench {

// A built index, searched over the data set's queries.
class Searcher {
 public:
  virtual ~Searcher() = default;
  // Top-k ids of queries [first, first + count), row-major into ids (count * k), using `threads`
  // threads. Missing results are -1.
  virtual void Search(int64_t first, int64_t count, int k, int threads, int64_t* ids) = 0;
  // Bytes of codes (or vectors) one query reads in a full scan; NaN for graph methods, whose
  // reads do not scale with the base.
  virtual double ScannedBytesPerQuery() const = 0;
};

struct Row {
  std::string method;  // turboquant-prod, turboquant-mse, faiss-flat, faiss-pqfastscan, ...
  std::string params;  // human-readable parameters (M, ef, ...)
  int rerank = 0;
  double bits_per_dim = 0;
  double bytes_per_vector = 0;  // codes (+ kept float vectors when rerank > 0, + graph links)
  double build_s = 0;
  double recall_at_k = NAN;
  double recall_1_at_k = NAN;
  double latency_ms = NAN;  // one query at a time, one thread
  double qps_1t = NAN;      // one batch of queries, one thread
  double qps_all = NAN;     // one batch of queries, all threads
  double bandwidth_fraction = NAN;
  int64_t latency_queries = 0;  // how many queries the latency and qps_1t figures averaged
  int64_t qps_1t_queries = 0;
  std::string build_options;  // FAISS rows: faiss::get_compile_options()
};

struct MeasureOptions {
  int k = 10;
  int threads = 1;               // "all threads"
  double time_budget_s = 5.0;    // per single-threaded measurement
  double memory_bandwidth = 0;   // bytes/s, single core
};

// Fills recall, latency, QPS and bandwidth_fraction of *row by searching `searcher`:
//  - a full batch of all queries on all threads (timed: qps_all; its results give the recall),
//  - queries one at a time on one thread until all are done or the time budget is spent,
//  - one batch on one thread, of all queries or as many as the budget allows (at least 100).
void Measure(Searcher* searcher, const Dataset& data, const MeasureOptions& options, Row* row);

double Seconds();  // monotonic clock

}  // namespace tqbench

#endif  // TURBOQUANT_BENCH_COMPARE_MEASURE_H_
