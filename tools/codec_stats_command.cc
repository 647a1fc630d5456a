// tqindex codec-stats: the quality and speed of one codec configuration,
// measured on seeded random unit vectors.
//   mse                   mean ||x - decode(encode(x))||^2 over unit vectors x
//   ip_bias, ip_rmse      mean and RMS of (estimate - <q, x>) over all pairs of
//                         samples x and random unit queries q, with the
//                         codec's float estimator
//   encode_vectors_per_s  Codec::Encode on one thread, per second of its CPU time
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/codec/codebook.h"
#include "src/util/random.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "turboquant/codec.h"

namespace tqindex {
namespace {

using turboquant::Codec;
using turboquant::CodecKind;

constexpr char kName[] = "codec-stats";

struct Options {
  CodecKind kind;
  int dim;
  int bits;
  int64_t samples;
  int64_t queries;
  uint64_t seed;
  uint64_t codec_seed;
  bool json;
};

struct Stats {
  double mse = 0;
  double expected_mse = 0;  // Lloyd-Max expectation of the (MSE-stage) codebook
  double ip_bias = 0;
  double ip_rmse = 0;
  double encode_vectors_per_s = 0;
  size_t code_bytes = 0;
};

void DeclareFlags(FlagSet& flags) {
  flags.AddInt("dim", std::nullopt, "D", "Vector dimension, 2..16384.");
  flags.AddInt("bits", std::nullopt, "B",
               "Bits per coordinate: 1..8 for mse, 2..8 for prod (whose MSE stage uses B-1).");
  flags.AddString("codec", std::nullopt, "mse|prod",
                  "mse: Lloyd-Max indices + norm + renormalization scale; prod: (B-1)-bit "
                  "indices + QJL sign bits (unbiased inner products).");
  flags.AddInt("samples", 10000, "N", "Random unit vectors to encode (1..10000000).");
  flags.AddInt("queries", 100, "Q",
               "Random unit queries; every query is scored against every sample (1..100000).");
  flags.AddUint64("seed", 1, "S", "Seed of the random vectors and queries.");
  flags.AddUint64("codec-seed", turboquant::CodecOptions().seed, "S",
                  "Seed of the codec's rotations (the library default).");
  flags.AddBool("json", "Print exactly one JSON object instead of the table.");
}

absl::StatusOr<Options> ReadOptions(const FlagSet& flags) {
  Options options;
  TQINDEX_ASSIGN_OR_RETURN(const std::string codec, flags.GetString("codec"));
  TQINDEX_ASSIGN_OR_RETURN(options.kind, ParseCodecFlag(codec));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t dim,
                           flags.GetIntInRange("dim", Codec::kMinDim, Codec::kMaxDim));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t bits, flags.GetInt("bits"));
  if (absl::Status s = CheckBitsFlag(options.kind, bits); !s.ok()) return s;
  options.dim = static_cast<int>(dim);
  options.bits = static_cast<int>(bits);
  TQINDEX_ASSIGN_OR_RETURN(options.samples, flags.GetIntInRange("samples", 1, 10000000));
  TQINDEX_ASSIGN_OR_RETURN(options.queries, flags.GetIntInRange("queries", 1, 100000));
  TQINDEX_ASSIGN_OR_RETURN(options.seed, flags.GetUint64("seed"));
  TQINDEX_ASSIGN_OR_RETURN(options.codec_seed, flags.GetUint64("codec-seed"));
  options.json = flags.GetBool("json");
  return options;
}

// n unit vectors with i.i.d. Gaussian directions, the same on every machine.
std::vector<float> RandomUnitVectors(int64_t n, int dim, uint64_t seed) {
  turboquant::internal::SeededRandom random(seed);
  std::vector<float> out(static_cast<size_t>(n) * dim);
  std::vector<double> row(dim);
  for (int64_t i = 0; i < n; ++i) {
    double norm2 = 0;
    for (double& v : row) {
      v = random.Normal();
      norm2 += v * v;
    }
    const double inverse = 1.0 / std::sqrt(norm2);
    for (int j = 0; j < dim; ++j) out[i * dim + j] = static_cast<float>(row[j] * inverse);
  }
  return out;
}

// CPU time of the calling thread: unlike wall time, it does not count the
// time other processes take the core away, so the throughput is comparable
// on a busy machine (as Google Benchmark's items_per_second).
double ThreadCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Encodes the batch repeatedly for at least a quarter second of CPU time.
absl::StatusOr<double> EncodeThroughput(const Codec& codec, const std::vector<float>& x,
                                        std::vector<uint8_t>& codes, int64_t count) {
  const double start = ThreadCpuSeconds();
  int64_t encoded = 0;
  double seconds = 0;
  do {
    if (absl::Status s = codec.Encode(x, absl::MakeSpan(codes)); !s.ok()) return s;
    encoded += count;
    seconds = ThreadCpuSeconds() - start;
  } while (seconds < 0.25);
  return encoded / seconds;
}

absl::StatusOr<Stats> Measure(const Options& options) {
  turboquant::CodecOptions codec_options;
  codec_options.dim = options.dim;
  codec_options.bits = options.bits;
  codec_options.seed = options.codec_seed;
  absl::StatusOr<std::unique_ptr<Codec>> codec = Codec::Create(options.kind, codec_options);
  if (!codec.ok()) return codec.status();
  const size_t dim = static_cast<size_t>(options.dim);
  const std::vector<float> x = RandomUnitVectors(options.samples, options.dim, options.seed);
  const std::vector<float> q =
      RandomUnitVectors(options.queries, options.dim, turboquant::internal::DeriveSeed(options.seed, 1));

  Stats stats;
  stats.code_bytes = (*codec)->code_size();
  std::vector<uint8_t> codes(options.samples * stats.code_bytes);
  absl::StatusOr<double> throughput = EncodeThroughput(**codec, x, codes, options.samples);
  if (!throughput.ok()) return throughput.status();
  stats.encode_vectors_per_s = *throughput;

  std::vector<float> decoded(x.size());
  if (absl::Status s = (*codec)->Decode(codes, absl::MakeSpan(decoded)); !s.ok()) return s;
  double squared_error = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = static_cast<double>(x[i]) - decoded[i];
    squared_error += e * e;
  }
  stats.mse = squared_error / options.samples;

  std::vector<float> scores(options.samples);
  double error_sum = 0, error_squares = 0;
  for (int64_t k = 0; k < options.queries; ++k) {
    const float* query = &q[k * dim];
    if (absl::Status s = (*codec)->EstimateInnerProducts({query, dim}, codes, absl::MakeSpan(scores));
        !s.ok()) {
      return s;
    }
    for (int64_t i = 0; i < options.samples; ++i) {
      double exact = 0;
      for (size_t j = 0; j < dim; ++j) exact += static_cast<double>(query[j]) * x[i * dim + j];
      const double error = scores[i] - exact;
      error_sum += error;
      error_squares += error * error;
    }
  }
  const double pairs = static_cast<double>(options.samples) * options.queries;
  stats.ip_bias = error_sum / pairs;
  stats.ip_rmse = std::sqrt(error_squares / pairs);
  const int codebook_bits = options.kind == CodecKind::kMse ? options.bits : options.bits - 1;
  stats.expected_mse =
      turboquant::internal::Codebook::Get(options.dim, codebook_bits)->expected_unit_mse();
  return stats;
}

void PrintJson(const Options& options, const Stats& stats) {
  constexpr int kDigits = 9;
  const bool mse = options.kind == CodecKind::kMse;
  JsonObject()
      .Str("codec", turboquant::CodecKindName(options.kind))
      .Int("dim", options.dim)
      .Int("bits", options.bits)
      .Int("samples", options.samples)
      .Int("queries", options.queries)
      .Uint("seed", options.seed)
      .Uint("code_bytes", stats.code_bytes)
      .Num("mse", stats.mse, kDigits)
      .Num(mse ? "expected_mse" : "expected_mse_stage", stats.expected_mse, kDigits)
      .Num("ip_bias", stats.ip_bias, kDigits)
      .Num("ip_rmse", stats.ip_rmse, kDigits)
      .Num("encode_vectors_per_s", stats.encode_vectors_per_s, kDigits)
      .Print();
}

void PrintTable(const Options& options, const Stats& stats) {
  const bool mse = options.kind == CodecKind::kMse;
  absl::PrintF("codec-stats: %s codec, dim %d, %d bits, %d bytes per code\n",
               turboquant::CodecKindName(options.kind), options.dim, options.bits,
               stats.code_bytes);
  absl::PrintF("  %d random unit vectors, %d random unit queries, seed %d\n\n", options.samples,
               options.queries, options.seed);
  const std::string expected =
      mse ? absl::StrFormat("(Lloyd-Max expectation %.6f)", stats.expected_mse)
          : absl::StrFormat("(its %d-bit MSE stage alone: %.6f)", options.bits - 1,
                            stats.expected_mse);
  absl::PrintF("  %-34s %14.6f  %s\n", "reconstruction MSE per unit vector", stats.mse,
               expected);
  absl::PrintF("  %-34s %14.3e  %s\n", "inner-product bias (mean error)", stats.ip_bias,
               mse ? "(renormalized estimate)" : "(unbiased estimator)");
  absl::PrintF("  %-34s %14.3e\n", "inner-product RMSE", stats.ip_rmse);
  absl::PrintF("  %-34s %14.0f  (%.2f M/s, one thread)\n", "encode throughput (vectors/s)",
               stats.encode_vectors_per_s, stats.encode_vectors_per_s / 1e6);
}

absl::Status MeasureAndPrint(const Options& options) {
  TQINDEX_ASSIGN_OR_RETURN(const Stats stats, Measure(options));
  (options.json ? PrintJson : PrintTable)(options, stats);
  return absl::OkStatus();
}

int Run(const std::vector<std::string>& args) {
  return RunCommand(
      kName, args, DeclareFlags, ReadOptions, MeasureAndPrint,
      "Measures one codec on seeded random unit vectors: the mean squared\n"
      "reconstruction error per unit vector (next to the codebook's expected value),\n"
      "the bias and RMS error of the float inner-product estimate against random unit\n"
      "queries, the code size, and single-thread encode throughput (vectors per second of\n"
      "the encoding thread's CPU time, so other load on the machine does not skew it).",
      {"tqindex codec-stats --dim 128 --bits 4 --codec mse",
       "tqindex codec-stats --dim 768 --bits 4 --codec prod --samples 2000 --json"});
}

}  // namespace

Command CodecStatsCommand() {
  return {kName, "measure a codec: reconstruction MSE, inner-product bias/RMSE, encode speed",
          &Run};
}

}  // namespace tqindex
