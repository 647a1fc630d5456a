// tqindex ingest-bench: online write throughput and latency of a durable
// collection. W writer threads Add batches of B random vectors for S seconds
// while the library seals and compacts in the background; every Add returns
// only once it is durable, so the rate is of acknowledged vectors.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "tools/progress.h"
#include "turboquant/index.h"

namespace tqindex {
namespace {

namespace fs = std::filesystem;
using turboquant::IndexOptions;
using turboquant::IndexStats;
using turboquant::TurboQuantIndex;

constexpr char kName[] = "ingest-bench";
// The writers cycle through this many batches, generated before the clock
// starts, so that the timing is of the index, not of the random number
// generator (which at d=768 took a third of a 2-core machine's run).
constexpr int kPoolBatches = 16;

struct Options {
  std::string index;
  IndexOptions index_options;
  int writers = 8;
  int64_t batch = 100;
  int64_t preload = 0;
  int64_t seal_rows = 0;
  double seconds = 10;
  bool json = false;
};

void DeclareFlags(FlagSet& flags) {
  flags.AddString("index", "", "DIR",
                  "Directory of the new collection (must not exist or be empty). Default: a "
                  "temporary directory, removed afterwards.");
  flags.AddInt("dim", 128, "D", "Vector dimension, 1..65536.");
  flags.AddInt("bits", 4, "B", "Bits per coordinate: 1..8 for mse, 2..8 for prod.");
  flags.AddString("codec", turboquant::CodecKindName(turboquant::kDefaultIndexCodec), "mse|prod",
                  "The codec (see 'tqindex build --help').");
  flags.AddString("metric", "ip", "ip|cosine|l2", "The metric (see 'tqindex build --help').");
  flags.AddBool("keep-vectors", "Also store the float32 vectors (dim * 4 bytes each).");
  flags.AddInt("writers", 8, "W", "Writer threads, 1..1024.");
  flags.AddInt("batch", 100, "B", "Vectors per Add, 1..1000000.");
  flags.AddInt("preload", 0, "N",
               "Vectors added (in batches of 65,536) before the timed run, so that it runs "
               "against a collection of that size.");
  flags.AddInt("seal-rows", 1 << 20, "N",
               "OpenOptions::seal_rows: unsealed rows that make the background thread seal.");
  flags.AddDouble("seconds", 10, "S", "Length of the timed run.");
  flags.AddBool("json", "Print exactly one JSON object instead of the report.");
}

absl::StatusOr<Options> ReadOptions(const FlagSet& flags) {
  Options o;
  TQINDEX_ASSIGN_OR_RETURN(o.index, flags.GetString("index"));
  if (absl::Status s = ReadIndexFlags(flags, &o.index_options); !s.ok()) return s;
  TQINDEX_ASSIGN_OR_RETURN(const int64_t dim, flags.GetIntInRange("dim", 1, 65536));
  o.index_options.dim = static_cast<int>(dim);
  o.index_options.keep_vectors = flags.GetBool("keep-vectors");
  TQINDEX_ASSIGN_OR_RETURN(const int64_t writers, flags.GetIntInRange("writers", 1, 1024));
  o.writers = static_cast<int>(writers);
  TQINDEX_ASSIGN_OR_RETURN(o.batch, flags.GetIntInRange("batch", 1, 1000000));
  TQINDEX_ASSIGN_OR_RETURN(o.preload, flags.GetIntInRange("preload", 0, int64_t{1} << 40));
  TQINDEX_ASSIGN_OR_RETURN(o.seal_rows, flags.GetIntInRange("seal-rows", 1, int64_t{1} << 40));
  TQINDEX_ASSIGN_OR_RETURN(o.seconds, flags.GetDouble("seconds"));
  if (!(o.seconds > 0 && o.seconds <= 86400)) {
    return absl::InvalidArgumentError("--seconds: expected a number in (0, 86400]");
  }
  o.json = flags.GetBool("json");
  return o;
}

std::vector<float> RandomVectors(int64_t rows, int dim, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<float> normal;
  std::vector<float> out(static_cast<size_t>(rows) * dim);
  for (float& x : out) x = normal(random);
  return out;
}

// Ids from `first` upward, one block of 2^40 per writer (and one for the
// preload), so that no Add replaces another's rows.
std::vector<int64_t> IdRange(int64_t first, int64_t count) {
  std::vector<int64_t> ids(count);
  for (int64_t i = 0; i < count; ++i) ids[i] = first + i;
  return ids;
}

absl::Status Preload(TurboQuantIndex& index, const Options& o) {
  constexpr int64_t kPreloadBatch = 65536;
  const std::vector<float> vectors = RandomVectors(kPreloadBatch, o.index_options.dim, 7);
  Progress progress("preloading", o.preload);
  for (int64_t done = 0; done < o.preload;) {
    const int64_t n = std::min(kPreloadBatch, o.preload - done);
    const absl::Span<const float> rows(vectors.data(), n * o.index_options.dim);
    if (absl::Status s = index.Add(IdRange(done, n), rows); !s.ok()) return s;
    done += n;
    progress.Update(done);
  }
  progress.Finish();
  return absl::OkStatus();
}

struct WriterLog {
  int64_t vectors = 0;
  std::vector<double> add_ms;
  absl::Status error;
};

void RunWriter(TurboQuantIndex& index, const Options& o, const std::vector<float>& pool, int writer,
               Clock::time_point end, WriterLog* log) {
  const int dim = o.index_options.dim;
  int64_t next_id = (int64_t{writer} + 1) << 40;
  for (int round = writer; Clock::now() < end; ++round) {
    const size_t at = static_cast<size_t>(round % kPoolBatches) * o.batch * dim;
    const absl::Span<const float> rows(pool.data() + at, static_cast<size_t>(o.batch) * dim);
    const auto start = Clock::now();
    if (absl::Status s = index.Add(IdRange(next_id, o.batch), rows); !s.ok()) {
      log->error = s;
      return;
    }
    log->add_ms.push_back(SecondsSince(start) * 1000);
    log->vectors += o.batch;
    next_id += o.batch;
  }
}

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1, static_cast<size_t>(fraction * values.size()));
  std::nth_element(values.begin(), values.begin() + at, values.end());
  return values[at];
}

struct Measured {
  int64_t vectors = 0;
  double seconds = 0;
  std::vector<double> add_ms;
  IndexStats stats;
};

absl::StatusOr<Measured> Measure(TurboQuantIndex& index, const Options& o) {
  const std::vector<float> pool = RandomVectors(o.batch * kPoolBatches, o.index_options.dim, 100);
  std::vector<WriterLog> logs(o.writers);
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int w = 0; w < o.writers; ++w) {
    threads.emplace_back(RunWriter, std::ref(index), std::cref(o), std::cref(pool), w, end,
                         &logs[w]);
  }
  for (std::thread& t : threads) t.join();
  Measured m;
  m.seconds = SecondsSince(start);
  for (const WriterLog& log : logs) {
    if (!log.error.ok()) return log.error;
    m.vectors += log.vectors;
    m.add_ms.insert(m.add_ms.end(), log.add_ms.begin(), log.add_ms.end());
  }
  m.stats = index.Stats();
  return m;
}

void Report(const Options& o, const Measured& m) {
  const double rate = PerSecond(m.vectors, m.seconds);
  const double p50 = Percentile(m.add_ms, 0.5), p99 = Percentile(m.add_ms, 0.99);
  if (o.json) {
    JsonObject()
        .Int("dim", o.index_options.dim)
        .Int("bits", o.index_options.bits)
        .Bool("keep_vectors", o.index_options.keep_vectors)
        .Int("writers", o.writers)
        .Int("batch", o.batch)
        .Int("preload", o.preload)
        .Int("acknowledged_vectors", m.vectors)
        .Num("seconds", m.seconds)
        .Num("acknowledged_vectors_per_s", rate)
        .Num("p50_add_ms", p50)
        .Num("p99_add_ms", p99)
        .Int("seals", m.stats.seals)
        .Int("compactions", m.stats.compactions)
        .Int("segments", m.stats.segments)
        .Print();
    return;
  }
  absl::PrintF(
      "%d writers x batches of %d (d=%d%s): %d acknowledged vectors in %.2f s = %s vectors/s\n",
      o.writers, o.batch, o.index_options.dim, o.index_options.keep_vectors ? ", kept vectors" : "",
      m.vectors, m.seconds, absl::StrFormat("%.0f", rate));
  absl::PrintF(
      "Add latency: p50 %.2f ms, p99 %.2f ms; %d seals and %d compactions in the "
      "background; %d segments\n",
      p50, p99, m.stats.seals, m.stats.compactions, m.stats.segments);
}

absl::Status RunBench(const Options& o) {
  std::string dir = o.index;
  std::unique_ptr<TemporaryDirectory> temp;
  if (dir.empty()) {
    TQINDEX_ASSIGN_OR_RETURN(temp, TemporaryDirectory::Make("tqindex-ingest-bench"));
    dir = temp->path() + "/c";
  }
  TQINDEX_ASSIGN_OR_RETURN(
      std::unique_ptr<TurboQuantIndex> index,
      TurboQuantIndex::Create(dir, o.index_options, {.seal_rows = o.seal_rows}));
  if (absl::Status s = Preload(*index, o); !s.ok()) return s;
  TQINDEX_ASSIGN_OR_RETURN(const Measured measured, Measure(*index, o));
  Report(o, measured);
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& args) {
  return RunCommand<Options>(
      kName, args, DeclareFlags, ReadOptions, RunBench,
      "Measures online writes: W threads Add batches of B random Gaussian vectors\n"
      "to a new durable collection for S seconds, each Add returning once it is\n"
      "synced (concurrent Adds share one fsync: group commit), while sealing and\n"
      "compaction run on the library's background thread. Reports acknowledged\n"
      "vectors per second, the p50 and p99 Add latency, and the seals and\n"
      "compactions done meanwhile.",
      {"tqindex ingest-bench --dim 128 --writers 8 --batch 100 --seconds 10",
       "tqindex ingest-bench --dim 768 --writers 8 --batch 1000 --keep-vectors --json",
       "tqindex ingest-bench --preload 1000000 --seal-rows 100000 --seconds 20"});
}

}  // namespace

Command IngestBenchCommand() {
  return {kName, "measure online write throughput and latency (group commit, background seals)",
          &Run};
}

}  // namespace tqindex
