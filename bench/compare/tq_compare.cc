// tq_compare: TurboQuantIndex side by side with FAISS on one data set, in one process.
//
//   tq_compare --base F --queries F [--groundtruth F] --metric ip|cosine|l2 [--k 10] [--json]
//              [--threads T] [--methods list] [--bits 2,4] [--rerank 100]
//   tq_compare --synthetic N,D --metric ip ...      (N + 1000 unit Gaussian vectors)
//
// Rows: turboquant-prod / turboquant-mse (bits 2 and 4; rerank 0 and, with keep_vectors,
// rerank 100), faiss-flat (exact), faiss-pqfastscan (4-bit sub-quantizers at the same bits per
// dimension; also + IndexRefineFlat at the same rerank depth), faiss-sq4, faiss-hnsw.
// Progress goes to stderr; the table or JSON to stdout. See bench/faiss/README.md.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/compare/dataset.h"
#include "bench/compare/faiss_methods.h"
#include "bench/compare/measure.h"
#include "bench/compare/memory_bandwidth.h"
#include "bench/compare/report.h"
#include "bench/compare/turboquant_methods.h"
#include "turboquant/codec.h"

#ifndef TQ_FAISS_KIND
#define TQ_FAISS_KIND "unknown"
#endif

namespace tqbench {
namespace {

const std::vector<std::string> kAllMethods = {"turboquant-prod", "turboquant-mse", "faiss-flat",
                                              "faiss-pqfastscan", "faiss-sq4", "faiss-hnsw"};

struct Args {
  std::string base, queries, groundtruth;
  std::string metric;
  int k = 10;
  bool json = false;
  int64_t synthetic_n = 0;
  int synthetic_d = 0;
  int64_t synthetic_queries = 1000;
  uint64_t seed = 42;
  int threads = 0;
  std::set<std::string> methods;
  std::vector<int> bits = {2, 4};
  int rerank = 100;
  double time_budget_s = 5.0;
  int hnsw_m = 32;
  int ef_search = 128;
  int ef_construction = 40;
};

void Usage(FILE* out) {
  std::fprintf(out,
      "usage: tq_compare (--base F --queries F [--groundtruth F] | --synthetic N,D)\n"
      "                  --metric ip|cosine|l2 [options]\n"
      "  --k K                 neighbours per query (default 10; recall@K, 1@K)\n"
      "  --json                print a JSON list of rows instead of the table\n"
      "  --threads T           threads for the all-threads batch (default: all cores)\n"
      "  --methods LIST        comma list of %s,\n"
      "                        or turboquant / faiss / all (default all)\n"
      "  --bits LIST           TurboQuant and PQ fast-scan bits per dimension (default 2,4)\n"
      "  --rerank R            exact re-rank depth of the re-rank rows; 0 = none (default 100)\n"
      "  --synthetic-queries Q queries of --synthetic (default 1000)\n"
      "  --seed S              seed of --synthetic (default 42)\n"
      "  --time-budget S       seconds per single-thread measurement (default 5)\n"
      "  --hnsw-m M --ef-search E --ef-construction C   HNSW parameters (32, 128, 40)\n",
      [] {
        std::string s;
        for (const auto& m : kAllMethods) s += (s.empty() ? "" : ",") + m;
        return s;
      }().c_str());
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "tq_compare: %s\n", message.c_str());
  Usage(stderr);
  std::exit(2);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream stream(s);
  std::string part;
  while (std::getline(stream, part, sep)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

int64_t ParseInt(const std::string& flag, const std::string& value, int64_t min, int64_t max) {
  char* end = nullptr;
  const long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < min || v > max) {
    Fail(flag + ": expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
         "], got '" + value + "'");
  }
  return v;
}

Args ParseArgs(int argc, char** argv) {
  Args args;
  std::string methods = "all";
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    bool has_value = false;
    const size_t eq = flag.find('=');
    if (flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    auto next = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= argc) Fail(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      Usage(stdout);
      std::exit(0);
    } else if (flag == "--json") {
      args.json = true;
    } else if (flag == "--base") {
      args.base = next();
    } else if (flag == "--queries") {
      args.queries = next();
    } else if (flag == "--groundtruth" || flag == "--ground-truth") {
      args.groundtruth = next();
    } else if (flag == "--metric") {
      args.metric = next();
    } else if (flag == "--k") {
      args.k = static_cast<int>(ParseInt(flag, next(), 1, 1000));
    } else if (flag == "--threads") {
      args.threads = static_cast<int>(ParseInt(flag, next(), 1, 4096));
    } else if (flag == "--methods") {
      methods = next();
    } else if (flag == "--bits") {
      args.bits.clear();
      for (const auto& b : Split(next(), ',')) args.bits.push_back(ParseInt(flag, b, 1, 8));
    } else if (flag == "--rerank") {
      args.rerank = static_cast<int>(ParseInt(flag, next(), 0, 100000));
    } else if (flag == "--synthetic") {
      const auto parts = Split(next(), ',');
      if (parts.size() != 2) Fail("--synthetic expects N,D");
      args.synthetic_n = ParseInt(flag, parts[0], 1, int64_t{1} << 34);
      args.synthetic_d = static_cast<int>(ParseInt(flag, parts[1], 2, 16384));
    } else if (flag == "--synthetic-queries") {
      args.synthetic_queries = ParseInt(flag, next(), 1, int64_t{1} << 24);
    } else if (flag == "--seed") {
      args.seed = static_cast<uint64_t>(ParseInt(flag, next(), 0, INT64_MAX));
    } else if (flag == "--time-budget") {
      args.time_budget_s = std::atof(next().c_str());
      if (!(args.time_budget_s > 0)) Fail("--time-budget must be > 0");
    } else if (flag == "--hnsw-m") {
      args.hnsw_m = static_cast<int>(ParseInt(flag, next(), 2, 512));
    } else if (flag == "--ef-search") {
      args.ef_search = static_cast<int>(ParseInt(flag, next(), 1, 1 << 20));
    } else if (flag == "--ef-construction") {
      args.ef_construction = static_cast<int>(ParseInt(flag, next(), 1, 1 << 20));
    } else {
      Fail("unknown argument '" + std::string(argv[i]) + "'");
    }
  }
  for (const auto& m : Split(methods, ',')) {
    if (m == "all") {
      args.methods.insert(kAllMethods.begin(), kAllMethods.end());
    } else if (m == "turboquant" || m == "faiss") {
      for (const auto& known : kAllMethods) {
        if (known.rfind(m, 0) == 0) args.methods.insert(known);
      }
    } else if (std::find(kAllMethods.begin(), kAllMethods.end(), m) != kAllMethods.end()) {
      args.methods.insert(m);
    } else {
      Fail("unknown method '" + m + "'");
    }
  }
  if (args.metric.empty()) Fail("--metric is required");
  if (args.synthetic_n > 0) {
    if (!args.base.empty() || !args.queries.empty()) Fail("--synthetic excludes --base/--queries");
  } else if (args.base.empty() || args.queries.empty()) {
    Fail("give --base and --queries, or --synthetic N,D");
  }
  if (args.threads == 0) args.threads = std::max(1u, std::thread::hardware_concurrency());
  return args;
}

// Timings mean little without the machine's state: busy cores, and OpenMP threads that spin while
// waiting (OMP_WAIT_POLICY unset or active) slow FAISS's multi-threaded paths down by 10x or more
// when the cores are shared. libgomp reads OMP_WAIT_POLICY before main, so it is reported, not set.
std::string DescribeEnvironment(int threads) {
  std::string load = "?";
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[128] = {0};
    if (std::fgets(buf, sizeof(buf), f)) {
      load = buf;
      const size_t cut = load.find(' ', load.find(' ', load.find(' ') + 1) + 1);
      if (cut != std::string::npos) load = load.substr(0, cut);
    }
    std::fclose(f);
  }
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  return "load average " + load + " on " + std::to_string(std::thread::hardware_concurrency()) +
         " hardware threads (" + std::to_string(threads) + " used); OMP_WAIT_POLICY=" +
         (wait_policy ? wait_policy : "(unset)");
}

int Main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  BenchMetric metric;
  if (!ParseBenchMetric(args.metric, &metric)) Fail("--metric must be ip, cosine or l2");
  omp_set_num_threads(args.threads);

  std::fprintf(stderr, "measuring single-core memory read bandwidth (1 GiB, best of 5)...\n");
  const double bandwidth = MeasureReadBandwidth();
  std::fprintf(stderr, "memory read bandwidth: %.2f GB/s\n", bandwidth / 1e9);

  Dataset data;
  if (args.synthetic_n > 0) {
    std::fprintf(stderr, "generating %lld + %lld unit Gaussian vectors of dim %d...\n",
                 static_cast<long long>(args.synthetic_n),
                 static_cast<long long>(args.synthetic_queries), args.synthetic_d);
    data = MakeSyntheticDataset(args.synthetic_n, args.synthetic_d, args.synthetic_queries, metric,
                                args.seed);
  } else {
    std::fprintf(stderr, "reading %s and %s...\n", args.base.c_str(), args.queries.c_str());
    data = LoadDataset(args.base, args.queries, args.groundtruth, metric);
  }
  PrepareDataset(&data, args.k, args.threads);

  RunInfo info;
  info.dataset = data.name;
  info.metric = metric;
  info.num_base = data.num_base;
  info.num_queries = data.num_queries;
  info.dim = data.dim;
  info.k = args.k;
  info.threads = args.threads;
  info.memory_bandwidth = bandwidth;
  info.ground_truth = data.ground_truth_source;
  info.environment = DescribeEnvironment(args.threads);
  info.faiss_build = std::string(TQ_FAISS_KIND) + ", compile options '" + FaissCompileOptions() + "'";

  MeasureOptions measure;
  measure.k = args.k;
  measure.threads = args.threads;
  measure.time_budget_s = args.time_budget_s;
  measure.memory_bandwidth = bandwidth;

  FaissOptions faiss;
  faiss.build_threads = args.threads;
  faiss.hnsw_m = args.hnsw_m;
  faiss.hnsw_ef_search = args.ef_search;
  faiss.hnsw_ef_construction = args.ef_construction;

  std::vector<Row> rows;
  if (!args.json) PrintTableHeader(info, stdout);
  const EmitRow emit = [&](Row row) {
    if (!args.json) PrintTableRow(row, stdout);
    rows.push_back(std::move(row));
  };
  auto wanted = [&](const char* m) { return args.methods.count(m) > 0; };

  for (const auto kind : {turboquant::CodecKind::kProd, turboquant::CodecKind::kMse}) {
    const char* name = kind == turboquant::CodecKind::kProd ? "turboquant-prod" : "turboquant-mse";
    if (!wanted(name)) continue;
    for (int bits : args.bits) {
      std::fprintf(stderr, "%s b=%d...\n", name, bits);
      RunTurboQuant(data, kind, bits, args.rerank, args.threads, measure, emit);
    }
  }
  if (wanted("faiss-flat")) {
    std::fprintf(stderr, "faiss-flat...\n");
    RunFaissFlat(data, faiss, measure, emit);
  }
  if (wanted("faiss-pqfastscan")) {
    for (int bits : args.bits) {
      if (bits != 2 && bits != 4) {
        std::fprintf(stderr, "faiss-pqfastscan: %d bits/dim not expressible with 4-bit "
                             "sub-quantizers of whole dimensions; skipped\n", bits);
        continue;
      }
      std::fprintf(stderr, "faiss-pqfastscan %d bits/dim...\n", bits);
      RunFaissPqFastScan(data, bits, args.rerank, faiss, measure, emit);
    }
  }
  if (wanted("faiss-sq4")) {
    std::fprintf(stderr, "faiss-sq4...\n");
    RunFaissSq4(data, faiss, measure, emit);
  }
  if (wanted("faiss-hnsw")) {
    std::fprintf(stderr, "faiss-hnsw...\n");
    RunFaissHnsw(data, faiss, measure, emit);
  }

  if (args.json) {
    std::fprintf(stderr, "memory read bandwidth: %.2f GB/s\n", bandwidth / 1e9);
    PrintJson(info, rows, stdout);
  }
  return 0;
}

}  // namespace
}  // namespace tqbench

int main(int argc, char** argv) { return tqbench::Main(argc, argv); }
