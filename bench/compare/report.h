// Printing the comparison: a readable table, or a JSON list of rows.
#ifndef TURBOQUANT_BENCH_COMPARE_REPORT_H_
#define TURBOQUANT_BENCH_COMPARE_REPORT_H_

#include <cstdio>
#include <string>
#include <vector>

#include "bench/compare/dataset.h"
#include "bench/compare/measure.h"

namespace tqbench {

struct RunInfo {
  std::string dataset;
  BenchMetric metric = BenchMetric::kInnerProduct;
  int64_t num_base = 0;
  int64_t num_queries = 0;
  int dim = 0;
  int k = 10;
  int threads = 1;
  double memory_bandwidth = 0;  // bytes/s
  std::string ground_truth;
  std::string faiss_build;  // which FAISS was linked, and its compile options
  std::string environment;  // load average at start, OMP_WAIT_POLICY: context for the timings
};

void PrintTableHeader(const RunInfo& info, FILE* out);
void PrintTableRow(const Row& row, FILE* out);
// A JSON list of rows; the run-wide facts are repeated in every row, so rows stand alone.
void PrintJson(const RunInfo& info, const std::vector<Row>& rows, FILE* out);

}  // namespace tqbench

#endif  // TURBOQUANT_BENCH_COMPARE_REPORT_H_
