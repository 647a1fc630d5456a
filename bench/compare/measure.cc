#include "bench/compare/measure.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace tqbench {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

void ComputeRecall(const Dataset& data, const std::vector<int64_t>& ids, int k, Row* row) {
  double hits = 0, top1_hits = 0;
  for (int64_t q = 0; q < data.num_queries; ++q) {
    const int64_t* found = ids.data() + q * k;
    const int64_t* truth = data.ground_truth.data() + q * data.gt_k;
    for (int i = 0; i < k; ++i) {
      if (std::find(found, found + k, truth[i]) != found + k) hits += 1;
    }
    if (std::find(found, found + k, truth[0]) != found + k) top1_hits += 1;
  }
  row->recall_at_k = hits / (static_cast<double>(data.num_queries) * k);
  row->recall_1_at_k = top1_hits / static_cast<double>(data.num_queries);
}

}  // namespace

void Measure(Searcher* searcher, const Dataset& data, const MeasureOptions& options, Row* row) {
  const int k = options.k;
  const int64_t nq = data.num_queries;
  std::vector<int64_t> ids(static_cast<size_t>(nq) * k, -1);

  // Warm-up (page faults, lazily built tables, thread pools).
  searcher->Search(0, std::min<int64_t>(nq, 8), k, options.threads, ids.data());

  double start = Seconds();
  searcher->Search(0, nq, k, options.threads, ids.data());
  double elapsed = Seconds() - start;
  row->qps_all = nq / elapsed;
  ComputeRecall(data, ids, k, row);

  // Latency: one query per call, one thread.
  std::vector<int64_t> one(k);
  int64_t done = 0;
  start = Seconds();
  elapsed = 0;
  while (done < nq && (done < 10 || elapsed < options.time_budget_s)) {
    searcher->Search(done, 1, k, 1, one.data());
    ++done;
    elapsed = Seconds() - start;
  }
  const double latency_s = elapsed / done;
  row->latency_ms = latency_s * 1e3;
  row->latency_queries = done;

  // Batch throughput on one thread; the batch is cut to fit the time budget (by the latency
  // estimate, which batching only improves on).
  int64_t batch = nq;
  if (latency_s * nq > options.time_budget_s) {
    batch = std::max<int64_t>(std::min<int64_t>(nq, 100),
                              static_cast<int64_t>(options.time_budget_s / latency_s));
    batch = std::min(batch, nq);
  }
  start = Seconds();
  searcher->Search(0, batch, k, 1, ids.data());
  elapsed = Seconds() - start;
  row->qps_1t = batch / elapsed;
  row->qps_1t_queries = batch;

  const double scanned = searcher->ScannedBytesPerQuery();
  if (!std::isnan(scanned) && options.memory_bandwidth > 0) {
    row->bandwidth_fraction = scanned / latency_s / options.memory_bandwidth;
  }
}

}  // namespace tqbench
