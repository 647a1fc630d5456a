// tqindex build: creates a new durable collection from a vector file.
//
// The input is streamed through VectorReader in batches (files larger than
// memory are fine) into TurboQuantIndex::BulkLoad, which encodes on several
// threads straight into segment files and commits them at once. On failure
// the half-built collection is removed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "turboquant/index.h"

namespace tqindex {
namespace {

namespace fs = std::filesystem;
using turboquant::IndexOptions;
using turboquant::IndexStats;
using turboquant::TurboQuantIndex;

constexpr char kName[] = "build";
// Input read per batch by default. Measured on Fashion-MNIST (784 floats a
// row): batches of 10,000 rows (31 MB) built at 69-85 k vectors/s, of 1,024
// rows at 133-152 k: large batches fault in fresh pages and leave the cache
// before they are encoded.
constexpr int64_t kDefaultBatchBytes = int64_t{1} << 20;

struct Options {
  std::string input, index, ids;
  turboquant::VectorReaderOptions input_options;
  IndexOptions index_options;
  int64_t batch = 0;
  turboquant::BulkLoadOptions load;
  bool json = false;
};

void DeclareFlags(FlagSet& flags) {
  flags.AddString("input", std::nullopt, "F",
                  "Vectors to index: .fvecs .bvecs .ivecs .fbin .u8bin .ibin .npy or MNIST IDX "
                  "(.gz ok). Its dimension becomes the collection's.");
  AddHdf5DatasetFlag(flags, "dataset", "input", "train");
  flags.AddString("index", std::nullopt, "DIR",
                  "Directory of the new collection; must not exist or be empty.");
  flags.AddString("ids", "", "F",
                  "Integer file (.ivecs .ibin .npy) with one id (>= 0) per input row. Without it "
                  "the ids are the row numbers 0..n-1.");
  flags.AddInt("bits", 4, "B", "Bits per coordinate: 1..8 for mse, 2..8 for prod.");
  flags.AddString("codec", turboquant::CodecKindName(turboquant::kDefaultIndexCodec), "mse|prod",
                  "mse: Lloyd-Max codes with length renormalization (ranks best); prod: (B-1)-bit "
                  "codes + QJL sign bits (unbiased inner products).");
  flags.AddString("metric", "ip", "ip|cosine|l2",
                  "ip: largest inner product; cosine: vectors normalized on insert; l2: smallest "
                  "squared Euclidean distance.");
  flags.AddBool("keep-vectors",
                "Also store the float32 vectors (dim * 4 bytes each) so that 'query --rerank' "
                "can re-rank exactly.");
  flags.AddInt("batch", 0, "N",
               "Rows read from --input at a time, 0..10000000 (0 = about 1 MiB of floats: small "
               "batches stay in cache while the next one is read).");
  flags.AddInt("threads", 0, "T", "Encoding threads, 0..4096 (0 = every core).");
  flags.AddInt("memory-mb", turboquant::BulkLoadOptions().memory_budget_bytes >> 20, "M",
               "Memory for encoded rows, 2..1048576 MiB: segments are cut at half of it.");
  flags.AddBool("json", "Print exactly one JSON object instead of the report.");
}

absl::StatusOr<Options> ReadOptions(const FlagSet& flags) {
  Options o;
  TQINDEX_ASSIGN_OR_RETURN(o.input, flags.GetString("input"));
  TQINDEX_ASSIGN_OR_RETURN(o.input_options, ReadHdf5DatasetFlag(flags, "dataset"));
  TQINDEX_ASSIGN_OR_RETURN(o.index, flags.GetString("index"));
  TQINDEX_ASSIGN_OR_RETURN(o.ids, flags.GetString("ids"));
  if (absl::Status s = ReadIndexFlags(flags, &o.index_options); !s.ok()) return s;
  o.index_options.keep_vectors = flags.GetBool("keep-vectors");
  TQINDEX_ASSIGN_OR_RETURN(o.batch, flags.GetIntInRange("batch", 0, 10000000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t threads, flags.GetIntInRange("threads", 0, 4096));
  o.load.threads = static_cast<int>(threads);
  TQINDEX_ASSIGN_OR_RETURN(const int64_t memory_mb, flags.GetIntInRange("memory-mb", 2, 1 << 20));
  o.load.memory_budget_bytes = memory_mb << 20;
  o.json = flags.GetBool("json");
  return o;
}

struct Built {
  int64_t rows = 0;
  double seconds = 0;
  IndexStats stats;
};

// Creates the collection and fills it; the caller removes it on failure.
absl::StatusOr<Built> BuildCollection(Options& o, bool* created) {
  const auto start = Clock::now();
  TQINDEX_ASSIGN_OR_RETURN(IngestSource source,
                           OpenIngestSource(o.input, o.input_options, o.ids, 0));
  o.index_options.dim = source.vectors->dim();
  TQINDEX_ASSIGN_OR_RETURN(std::unique_ptr<TurboQuantIndex> index,
                           TurboQuantIndex::Create(o.index, o.index_options));
  *created = true;
  if (o.batch == 0) o.batch = std::max<int64_t>(1, kDefaultBatchBytes / (o.index_options.dim * 4));
  std::unique_ptr<turboquant::RowSource> rows = IngestRowSource(source, o.batch);
  TQINDEX_ASSIGN_OR_RETURN(const turboquant::BulkLoadResult loaded,
                           BulkLoadWithProgress(*index, *rows, o.load, "building"));
  Built built;
  built.rows = loaded.rows;
  built.seconds = SecondsSince(start);
  built.stats = index->Stats();
  return built;
}

void Report(const Options& o, const Built& built) {
  const IndexOptions& io = o.index_options;
  const double float_bytes = static_cast<double>(built.rows) * io.dim * sizeof(float);
  const double bytes = static_cast<double>(built.stats.bytes_on_disk);
  const double rate = PerSecond(built.rows, built.seconds);
  if (o.json) {
    JsonObject()
        .Str("index", o.index)
        .Str("input", o.input)
        .Int("rows", built.rows)
        .Int("count", built.rows)
        .Int("dim", io.dim)
        .Int("bits", io.bits)
        .Str("codec", turboquant::CodecKindName(io.codec))
        .Str("metric", turboquant::MetricName(io.metric))
        .Bool("keep_vectors", io.keep_vectors)
        .Num("seconds", built.seconds)
        .Num("vectors_per_s", rate)
        .Int("bytes_on_disk", static_cast<int64_t>(built.stats.bytes_on_disk))
        .Num("float32_bytes", float_bytes)
        .Num("size_ratio", float_bytes > 0 ? bytes / float_bytes : 0)
        .Int("bytes_per_vector", static_cast<int64_t>(built.stats.bytes_per_vector))
        .Int("segments", built.stats.segments)
        .Int("threads", EffectiveThreads(o.load.threads))
        .Print();
    return;
  }
  absl::PrintF("built %s: %d vectors of dimension %d (%s codec, %d bits, metric %s%s)\n", o.index,
               built.rows, io.dim, turboquant::CodecKindName(io.codec), io.bits,
               turboquant::MetricName(io.metric), io.keep_vectors ? ", float vectors kept" : "");
  absl::PrintF("  time      %.2f s (%.0f vectors/s)\n", built.seconds, rate);
  absl::PrintF("  on disk   %s = %.1f bytes/vector; float32 would be %s (%.1f%% of it)\n",
               HumanBytes(bytes), built.rows > 0 ? bytes / built.rows : 0.0,
               HumanBytes(float_bytes), float_bytes > 0 ? 100 * bytes / float_bytes : 0.0);
}

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  DeclareFlags(flags);
  if (std::optional<int> done = ParseFlagsOrPrintHelp(
          kName, args, flags,
          "Creates a new durable collection in --index DIR from every row of --input,\n"
          "streaming the file in batches (it need not fit in memory), encoding on --threads\n"
          "threads straight into segment files that are committed at once. Prints the row\n"
          "count, the time and vectors/s, and the bytes on disk next to the float32 size of\n"
          "the input. If anything fails, the incomplete collection is removed. A progress\n"
          "bar is drawn when stderr is a terminal. --memory-mb bounds the memory the load\n"
          "holds, whatever the input size.\n"
          "For an HDF5 --input (.hdf5 .h5, as ann-benchmarks ships) --dataset picks the\n"
          "dataset to index.",
          {"tqindex build --input sift_base.fvecs --index sift.tq --metric l2",
           "tqindex build --input docs.npy --ids doc_ids.ivecs --index docs.tq --bits 3 "
           "--metric cosine --keep-vectors --json",
           "tqindex build --input glove-100-angular.hdf5 --dataset train --index glove.tq "
           "--metric cosine"})) {
    return *done;
  }
  absl::StatusOr<Options> options = ReadOptions(flags);
  if (!options.ok()) return UsageError(kName, options.status());
  std::error_code error;
  const bool existed = fs::exists(options->index, error);
  bool created = false;
  absl::StatusOr<Built> built = BuildCollection(*options, &created);
  if (!built.ok()) {
    const int code = Failure(kName, built.status());
    if (created) {
      fs::remove_all(options->index, error);
      if (existed) fs::create_directory(options->index, error);
      std::fprintf(stderr, "tqindex %s: removed the incomplete collection %s\n", kName,
                   options->index.c_str());
    }
    return code;
  }
  Report(*options, *built);
  return kExitOk;
}

}  // namespace

Command BuildCommand() {
  return {kName, "create a durable collection from a vector file (streamed, with --ids)", &Run};
}

}  // namespace tqindex
