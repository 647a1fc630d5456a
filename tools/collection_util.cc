#include "tools/collection_util.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "src/index/parallel.h"
#include "tools/command.h"
#include "tools/progress.h"

namespace tqindex {

using turboquant::CodecKind;
using turboquant::IdMatrix;
using turboquant::IndexOptions;
using turboquant::Matrix;
using turboquant::Metric;
using turboquant::SearchParams;
using turboquant::SearchResults;
using turboquant::TurboQuantIndex;
using turboquant::VectorReader;
using turboquant::VectorReaderOptions;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double PerSecond(int64_t count, double seconds) { return seconds > 0 ? count / seconds : 0; }

// ---- JSON ---------------------------------------------------------------------

std::string JsonQuote(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void JsonObject::Key(const std::string& key) {
  if (!body_.empty()) body_ += ",";
  absl::StrAppend(&body_, JsonQuote(key), ":");
}

JsonObject& JsonObject::Str(const std::string& key, const std::string& value) {
  Key(key);
  body_ += JsonQuote(value);
  return *this;
}

JsonObject& JsonObject::Int(const std::string& key, int64_t value) {
  Key(key);
  absl::StrAppend(&body_, value);
  return *this;
}

JsonObject& JsonObject::Uint(const std::string& key, uint64_t value) {
  Key(key);
  absl::StrAppend(&body_, value);
  return *this;
}

JsonObject& JsonObject::Num(const std::string& key, double value, int significant_digits) {
  Key(key);
  body_ += std::isfinite(value) ? absl::StrFormat("%.*g", significant_digits, value) : "null";
  return *this;
}

JsonObject& JsonObject::Bool(const std::string& key, bool value) {
  Key(key);
  body_ += value ? "true" : "false";
  return *this;
}

std::string JsonObject::ToString() const { return absl::StrCat("{", body_, "}"); }

void JsonObject::Print() const { std::printf("%s\n", ToString().c_str()); }

// ---- flags --------------------------------------------------------------------------

absl::StatusOr<CodecKind> ParseCodecFlag(const std::string& text) {
  if (text == "mse") return CodecKind::kMse;
  if (text == "prod") return CodecKind::kProd;
  return absl::InvalidArgumentError(
      absl::StrFormat("--codec: unknown codec '%s' (expected mse or prod)", text));
}

absl::StatusOr<Metric> ParseMetricFlag(const std::string& text) {
  absl::StatusOr<Metric> metric = turboquant::ParseMetric(text);
  if (!metric.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--metric: unknown metric '%s' (expected ip, cosine or l2)", text));
  }
  return metric;
}

absl::Status CheckBitsFlag(CodecKind codec, int64_t bits) {
  const int min_bits = codec == CodecKind::kMse ? 1 : 2;
  if (bits < min_bits || bits > 8) {
    return absl::InvalidArgumentError(absl::StrFormat("--bits: %d is out of range for %s (%d..8)",
                                                      bits, turboquant::CodecKindName(codec),
                                                      min_bits));
  }
  return absl::OkStatus();
}

absl::Status ReadIndexFlags(const FlagSet& flags, IndexOptions* options) {
  TQINDEX_ASSIGN_OR_RETURN(const std::string codec, flags.GetString("codec"));
  TQINDEX_ASSIGN_OR_RETURN(options->codec, ParseCodecFlag(codec));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t bits, flags.GetInt("bits"));
  if (absl::Status s = CheckBitsFlag(options->codec, bits); !s.ok()) return s;
  options->bits = static_cast<int>(bits);
  TQINDEX_ASSIGN_OR_RETURN(const std::string metric, flags.GetString("metric"));
  TQINDEX_ASSIGN_OR_RETURN(options->metric, ParseMetricFlag(metric));
  return absl::OkStatus();
}

absl::Status ReadSearchFlags(const FlagSet& flags, SearchParams* params) {
  TQINDEX_ASSIGN_OR_RETURN(const int64_t k, flags.GetIntInRange("k", 1, 100000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t rerank, flags.GetIntInRange("rerank", 0, 1000000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t rescore, flags.GetIntInRange("rescore", 0, 1000000));
  TQINDEX_ASSIGN_OR_RETURN(const int64_t threads, flags.GetIntInRange("threads", 0, 4096));
  params->k = static_cast<int>(k);
  params->rerank = static_cast<int>(rerank);
  params->rescore = static_cast<int>(rescore);
  params->threads = static_cast<int>(threads);
  return absl::OkStatus();
}

void AddHdf5DatasetFlag(FlagSet& flags, const std::string& name, const std::string& file_flag,
                        const std::string& default_dataset) {
  flags.AddString(name, default_dataset, "NAME",
                  absl::StrCat("For an HDF5 --", file_flag,
                               " (.hdf5 .h5): the dataset to read (ann-benchmarks files hold "
                               "train, test, neighbors and distances). Other formats ignore it."));
}

absl::StatusOr<VectorReaderOptions> ReadHdf5DatasetFlag(const FlagSet& flags,
                                                        const std::string& name) {
  VectorReaderOptions options;
  TQINDEX_ASSIGN_OR_RETURN(options.hdf5_dataset, flags.GetString(name));
  return options;
}

// ---- opening a collection ------------------------------------------------------------

absl::StatusOr<std::unique_ptr<TurboQuantIndex>> OpenCollectionDir(const std::string& dir,
                                                                   Access access) {
  turboquant::OpenOptions open;
  open.read_only = access == Access::kRead;
  return TurboQuantIndex::Open(dir, open);
}

std::optional<int> OpenIndexFlag(const std::string& command, const FlagSet& flags, Access access,
                                 OpenCollection* collection) {
  absl::StatusOr<std::string> dir = flags.GetString("index");
  if (!dir.ok()) return UsageError(command, dir.status());
  absl::StatusOr<std::unique_ptr<TurboQuantIndex>> index = OpenCollectionDir(*dir, access);
  if (!index.ok()) return Failure(command, index.status());
  collection->dir = *dir;
  collection->index = std::move(*index);
  return std::nullopt;
}

// ---- streaming input ----------------------------------------------------------------

absl::StatusOr<IngestSource> OpenIngestSource(const std::string& input,
                                              const VectorReaderOptions& input_options,
                                              const std::string& ids_path, int64_t first_id) {
  IngestSource source;
  absl::StatusOr<std::unique_ptr<VectorReader>> vectors = VectorReader::Open(input, input_options);
  if (!vectors.ok()) return vectors.status();
  source.vectors = std::move(*vectors);
  source.first_id = first_id;
  if (ids_path.empty()) return source;
  absl::StatusOr<std::unique_ptr<VectorReader>> ids = VectorReader::Open(ids_path);
  if (!ids.ok()) return ids.status();
  if (!turboquant::IsIntegerType((*ids)->element_type())) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: holds %s values, but ids must be integers (.ivecs, .ibin, or int32/int64 .npy)",
        ids_path, turboquant::ElementTypeName((*ids)->element_type())));
  }
  if ((*ids)->dim() != 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: has %d values per row; an ids file has one id per row", ids_path, (*ids)->dim()));
  }
  if ((*ids)->rows() != source.vectors->rows()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: has %d ids, but %s has %d vectors; give one id per vector", ids_path,
                        (*ids)->rows(), input, source.vectors->rows()));
  }
  source.ids = std::move(*ids);
  return source;
}

absl::Status CheckDimension(const std::string& what, const std::string& path, int file_dim,
                            const std::string& collection, int collection_dim) {
  if (file_dim == collection_dim) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrFormat("dimension mismatch: %s %s has dimension %d, but the collection %s has "
                      "dimension %d",
                      what, path, file_dim, collection, collection_dim));
}

absl::StatusOr<IngestResult> Ingest(IngestSource& source, TurboQuantIndex& index, int64_t batch,
                                    const std::string& label, bool count_replaced) {
  const Clock::time_point start = Clock::now();
  IngestResult result;
  Progress progress(label, source.vectors->rows());
  std::vector<float> vectors;
  std::vector<int64_t> ids;
  while (true) {
    vectors.clear();
    absl::StatusOr<int64_t> got = source.vectors->ReadRows(batch, &vectors);
    if (!got.ok()) return got.status();
    if (*got == 0) break;
    ids.clear();
    if (source.ids != nullptr) {
      absl::StatusOr<int64_t> got_ids = source.ids->ReadRowsInt64(*got, &ids);
      if (!got_ids.ok()) return got_ids.status();
      if (*got_ids != *got) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: ended after %d ids, but %s has more vectors",
                            source.ids->path(), result.rows + *got_ids, source.vectors->path()));
      }
    } else {
      for (int64_t r = 0; r < *got; ++r) ids.push_back(source.first_id + result.rows + r);
    }
    if (count_replaced) {
      for (const int64_t id : ids) result.replaced += index.Contains(id) ? 1 : 0;
    }
    if (absl::Status s = index.Add(ids, vectors); !s.ok()) {
      return absl::Status(s.code(), absl::StrFormat("%s rows %d..%d: %s", source.vectors->path(),
                                                    result.rows, result.rows + *got - 1,
                                                    s.message()));
    }
    result.rows += *got;
    progress.Update(result.rows);
  }
  progress.Finish();
  result.seconds = SecondsSince(start);
  return result;
}

absl::Status AddRowsByNumber(const Matrix& rows, TurboQuantIndex& index) {
  constexpr int64_t kBatch = 10000;
  Progress progress("building", rows.rows);
  std::vector<int64_t> ids;
  for (int64_t r = 0; r < rows.rows; r += kBatch) {
    const int64_t n = std::min(kBatch, rows.rows - r);
    ids.resize(n);
    for (int64_t i = 0; i < n; ++i) ids[i] = r + i;
    if (absl::Status s =
            index.Add(ids, absl::MakeConstSpan(rows.data.data() + r * rows.dim, n * rows.dim));
        !s.ok()) {
      return s;
    }
    progress.Update(r + n);
  }
  return absl::OkStatus();
}

namespace {

class IngestRows final : public turboquant::RowSource {
 public:
  IngestRows(IngestSource& source, int64_t batch) : source_(source), batch_(batch) {}

  absl::Status Next(turboquant::RowBatch* batch) override {
    batch->vector_storage.clear();
    // One allocation for the whole batch, kept for the next ones: growing
    // chunk by chunk would copy the rows and fault in fresh pages each time.
    batch->vector_storage.reserve(static_cast<size_t>(batch_) * source_.vectors->dim());
    absl::StatusOr<int64_t> got = source_.vectors->ReadRows(batch_, &batch->vector_storage);
    if (!got.ok()) return got.status();
    batch->id_storage.clear();
    if (source_.ids != nullptr) {
      absl::StatusOr<int64_t> got_ids = source_.ids->ReadRowsInt64(*got, &batch->id_storage);
      if (!got_ids.ok()) return got_ids.status();
      if (*got_ids != *got) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: ended after %d ids, but %s has more vectors", source_.ids->path(),
                            rows_ + *got_ids, source_.vectors->path()));
      }
    } else {
      for (int64_t r = 0; r < *got; ++r) batch->id_storage.push_back(source_.first_id + rows_ + r);
    }
    rows_ += *got;
    batch->ids = batch->id_storage;
    batch->vectors = batch->vector_storage;
    return absl::OkStatus();
  }
  int64_t total_rows() const override { return source_.vectors->rows(); }

 private:
  IngestSource& source_;
  const int64_t batch_;
  int64_t rows_ = 0;
};

}  // namespace

std::unique_ptr<turboquant::RowSource> IngestRowSource(IngestSource& source, int64_t batch) {
  return std::make_unique<IngestRows>(source, batch);
}

absl::StatusOr<turboquant::BulkLoadResult> BulkLoadWithProgress(TurboQuantIndex& index,
                                                                turboquant::RowSource& rows,
                                                                turboquant::BulkLoadOptions options,
                                                                const std::string& label) {
  Progress progress(label, rows.total_rows());
  options.progress = [&progress](int64_t done) { progress.Update(done); };
  absl::StatusOr<turboquant::BulkLoadResult> result = index.BulkLoad(rows, options);
  progress.Finish();
  return result;
}

// ---- ground truth ---------------------------------------------------------------------

namespace {

// Distances of `nq` queries to `nb` base rows, out[q * nb + i]: squared L2,
// or the negated inner product (so that smaller is better for every metric).
// Four base rows at a time share each load of the query, and sixteen partial
// sums per row let the compiler vectorize without reassociating one sum.
template <bool kL2>
__attribute__((always_inline)) inline void ScoreBlockImpl(const float* queries, int64_t nq,
                                                          const float* base, int64_t nb, int dim,
                                                          float* out) {
  constexpr int kLanes = 16;
  auto term = [](float x, float y) {
    if constexpr (kL2) {
      const float d = x - y;
      return d * d;
    } else {
      return x * y;
    }
  };
  for (int64_t qi = 0; qi < nq; ++qi) {
    const float* q = queries + qi * dim;
    float* row_out = out + qi * nb;
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
      const float* r0 = base + i * dim;
      const float* r1 = r0 + dim;
      const float* r2 = r1 + dim;
      const float* r3 = r2 + dim;
      float a0[kLanes] = {}, a1[kLanes] = {}, a2[kLanes] = {}, a3[kLanes] = {};
      int j = 0;
      for (; j + kLanes <= dim; j += kLanes) {
        for (int t = 0; t < kLanes; ++t) {
          const float x = q[j + t];
          a0[t] += term(x, r0[j + t]);
          a1[t] += term(x, r1[j + t]);
          a2[t] += term(x, r2[j + t]);
          a3[t] += term(x, r3[j + t]);
        }
      }
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (; j < dim; ++j) {
        s0 += term(q[j], r0[j]);
        s1 += term(q[j], r1[j]);
        s2 += term(q[j], r2[j]);
        s3 += term(q[j], r3[j]);
      }
      for (int t = 0; t < kLanes; ++t) {
        s0 += a0[t];
        s1 += a1[t];
        s2 += a2[t];
        s3 += a3[t];
      }
      row_out[i] = kL2 ? s0 : -s0;
      row_out[i + 1] = kL2 ? s1 : -s1;
      row_out[i + 2] = kL2 ? s2 : -s2;
      row_out[i + 3] = kL2 ? s3 : -s3;
    }
    for (; i < nb; ++i) {
      const float* r = base + i * dim;
      float sum = 0;
      for (int j = 0; j < dim; ++j) sum += term(q[j], r[j]);
      row_out[i] = kL2 ? sum : -sum;
    }
  }
}

// On x86-64 with GCC, also compile an AVX2+FMA version, chosen at run time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TQINDEX_KERNEL_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define TQINDEX_KERNEL_CLONES
#endif

TQINDEX_KERNEL_CLONES
void ScoreBlock(const float* queries, int64_t nq, const float* base, int64_t nb, int dim, bool l2,
                float* out) {
  if (l2) {
    ScoreBlockImpl<true>(queries, nq, base, nb, dim, out);
  } else {
    ScoreBlockImpl<false>(queries, nq, base, nb, dim, out);
  }
}

std::vector<float> NormalizedRows(const Matrix& m) {
  std::vector<float> out = m.data;
  for (int64_t i = 0; i < m.rows; ++i) {
    float* row = out.data() + i * m.dim;
    double norm2 = 0;
    for (int j = 0; j < m.dim; ++j) norm2 += static_cast<double>(row[j]) * row[j];
    if (norm2 == 0) continue;
    const float inverse = static_cast<float>(1 / std::sqrt(norm2));
    for (int j = 0; j < m.dim; ++j) row[j] *= inverse;
  }
  return out;
}

}  // namespace

int HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

int EffectiveThreads(int threads) { return threads == 0 ? HardwareThreads() : threads; }

std::vector<int64_t> ExactTopK(const Matrix& base, const Matrix& queries, Metric metric, int k,
                               int threads) {
  const int dim = base.dim;
  const int64_t n = base.rows;
  const int64_t nq = queries.rows;
  std::vector<int64_t> out(static_cast<size_t>(nq) * k, -1);
  std::vector<float> normalized_base, normalized_queries;
  const float* b = base.data.data();
  const float* q = queries.data.data();
  if (metric == Metric::kCosine) {
    normalized_base = NormalizedRows(base);
    normalized_queries = NormalizedRows(queries);
    b = normalized_base.data();
    q = normalized_queries.data();
  }
  const bool l2 = metric == Metric::kL2;
  // Blocks of queries against blocks of base rows that stay in cache.
  constexpr int64_t kQueryBlock = 8;
  constexpr int64_t kBaseBlock = 256;
  const size_t tasks = static_cast<size_t>((nq + kQueryBlock - 1) / kQueryBlock);
  Progress progress("exact ground truth", nq);
  std::mutex progress_mutex;
  std::atomic<int64_t> done{0};
  using Hit = std::pair<float, int64_t>;  // (distance, row): smaller is better
  turboquant::internal::ParallelFor(tasks, EffectiveThreads(threads), [&](size_t task) {
    const int64_t q0 = static_cast<int64_t>(task) * kQueryBlock;
    const int64_t q1 = std::min(nq, q0 + kQueryBlock);
    std::vector<std::vector<Hit>> heaps(q1 - q0);
    for (auto& heap : heaps) heap.reserve(k + 1);
    std::vector<float> scores((q1 - q0) * kBaseBlock);
    for (int64_t b0 = 0; b0 < n; b0 += kBaseBlock) {
      const int64_t nb = std::min(n, b0 + kBaseBlock) - b0;
      ScoreBlock(q + q0 * dim, q1 - q0, b + b0 * dim, nb, dim, l2, scores.data());
      for (int64_t qi = q0; qi < q1; ++qi) {
        std::vector<Hit>& heap = heaps[qi - q0];
        const float* row_scores = scores.data() + (qi - q0) * nb;
        for (int64_t i = 0; i < nb; ++i) {
          const Hit hit(row_scores[i], b0 + i);
          if (static_cast<int>(heap.size()) < k) {
            heap.push_back(hit);
            std::push_heap(heap.begin(), heap.end());
          } else if (hit < heap.front()) {
            std::pop_heap(heap.begin(), heap.end());
            heap.back() = hit;
            std::push_heap(heap.begin(), heap.end());
          }
        }
      }
    }
    for (int64_t qi = q0; qi < q1; ++qi) {
      std::vector<Hit>& heap = heaps[qi - q0];
      std::sort_heap(heap.begin(), heap.end());
      for (size_t j = 0; j < heap.size(); ++j) out[qi * k + j] = heap[j].second;
    }
    const int64_t finished = done += q1 - q0;
    if (progress_mutex.try_lock()) {
      progress.Update(finished);
      progress_mutex.unlock();
    }
  });
  progress.Finish();
  return out;
}

absl::StatusOr<IdMatrix> ReadGroundTruth(const std::string& path,
                                         const VectorReaderOptions& options, int64_t num_queries,
                                         int k) {
  absl::StatusOr<IdMatrix> truth = turboquant::ReadIdRows(path, options);
  if (!truth.ok()) return truth.status();
  if (truth->rows != num_queries) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: has %d rows of ground truth, but there are %d queries", path, truth->rows,
        num_queries));
  }
  if (truth->dim < k) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: has %d neighbours per query, fewer than k = %d", path, truth->dim, k));
  }
  return truth;
}

double RecallAtK(const std::vector<int64_t>& results, int result_k,
                 const std::vector<int64_t>& truth, int truth_k, int k) {
  const int64_t nq = result_k == 0 ? 0 : static_cast<int64_t>(results.size()) / result_k;
  if (nq == 0 || k == 0) return 0;
  const int rk = std::min(k, result_k);
  const int tk = std::min(k, truth_k);
  int64_t hits = 0;
  for (int64_t q = 0; q < nq; ++q) {
    const int64_t* r = results.data() + q * result_k;
    const int64_t* t = truth.data() + q * truth_k;
    for (int j = 0; j < rk; ++j) {
      if (r[j] >= 0 && std::find(t, t + tk, r[j]) != t + tk) ++hits;
    }
  }
  return static_cast<double>(hits) / (static_cast<double>(nq) * k);
}

double OneRecallAtK(const std::vector<int64_t>& results, int result_k,
                    const std::vector<int64_t>& truth, int truth_k, int k) {
  const int64_t nq = result_k == 0 ? 0 : static_cast<int64_t>(results.size()) / result_k;
  if (nq == 0 || truth_k == 0) return 0;
  const int rk = std::min(k, result_k);
  int64_t hits = 0;
  for (int64_t q = 0; q < nq; ++q) {
    const int64_t* r = results.data() + q * result_k;
    if (std::find(r, r + rk, truth[q * truth_k]) != r + rk) ++hits;
  }
  return static_cast<double>(hits) / nq;
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrFormat("%.0f B", bytes) : absl::StrFormat("%.1f %s", bytes, units[unit]);
}

absl::StatusOr<std::unique_ptr<TemporaryDirectory>> TemporaryDirectory::Make(
    const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix,
                                     "-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(
        absl::StrFormat("%s: cannot make a temporary directory: %s", pattern, std::strerror(errno)));
  }
  return std::unique_ptr<TemporaryDirectory>(new TemporaryDirectory(pattern));
}

TemporaryDirectory::~TemporaryDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace tqindex
