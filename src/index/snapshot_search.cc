#include "src/index/snapshot_search.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <type_traits>

#include "src/codec/codebook.h"
#include "src/index/filter_rows.h"
#include "src/index/parallel.h"
#include "src/scan/mse_estimate.h"
#include "src/scan/query_tables.h"
#include "src/scan/scan_layout.h"

namespace turboquant::internal {
namespace {

constexpr size_t kQueriesPerChunk = 32;
constexpr size_t kMinBlocksPerRange = 256;

// A candidate somewhere in the snapshot.
struct Hit {
  float score;
  uint32_t segment;
  uint32_t row;
};

// A function object, so that the selections and sorts inline it.
struct BetterHit {
  bool operator()(const Hit& a, const Hit& b) const {
    if (a.score != b.score) return a.score > b.score;
    return a.segment != b.segment ? a.segment < b.segment : a.row < b.row;
  }
};

// Cuts *hits to its best k, in any order.
void KeepBestHits(std::vector<Hit>* hits, size_t k) {
  if (hits->size() <= k) return;
  std::nth_element(hits->begin(), hits->begin() + k, hits->end(), BetterHit());
  hits->resize(k);
}

void KeepBestHitsSorted(std::vector<Hit>* hits, size_t k) {
  KeepBestHits(hits, k);
  std::sort(hits->begin(), hits->end(), BetterHit());
}

ScanObjective ObjectiveFor(Metric metric) {
  return metric == Metric::kL2 ? ScanObjective::kNegativeL2Partial : ScanObjective::kInnerProduct;
}

// Per segment: the rows a search may return (live and matching the filter),
// or null when every row may be returned.
std::vector<LiveRows> SearchableRows(const Snapshot& snapshot, const Filter& filter) {
  std::vector<LiveRows> rows(snapshot.segments.size());
  for (size_t s = 0; s < rows.size(); ++s) {
    rows[s] = FilterAccess::SearchableRows(filter, snapshot.segments[s]);
  }
  return rows;
}

struct ScanTask {
  size_t chunk, segment, block_begin, block_end;
};

// (query chunk) x (segment, block range): many queries split by chunk; a few
// queries over a big segment split by block range, so one query still uses
// every thread.
std::vector<ScanTask> PlanScanTasks(const Snapshot& snapshot, size_t num_chunks, int threads) {
  std::vector<ScanTask> tasks;
  for (size_t s = 0; s < snapshot.segments.size(); ++s) {
    const size_t blocks = snapshot.segments[s].segment->layout().num_blocks();
    size_t ranges = 1;
    if (num_chunks < static_cast<size_t>(threads)) {
      ranges = std::clamp<size_t>(threads / num_chunks, 1,
                                  std::max<size_t>(1, blocks / kMinBlocksPerRange));
    }
    for (size_t c = 0; c < num_chunks; ++c) {
      for (size_t r = 0; r < ranges; ++r) {
        tasks.push_back({c, s, blocks * r / ranges, blocks * (r + 1) / ranges});
      }
    }
  }
  return tasks;
}

// The lookup tables of every chunk of kQueriesPerChunk queries. They hold
// each query rotated (prepared) once, for the scan and for the re-scoring.
std::vector<std::optional<QueryTables>> MakeTables(const Codec& codec, const IndexOptions& options,
                                                   const SearchRequest& request) {
  const size_t num_chunks = (request.num_queries + kQueriesPerChunk - 1) / kQueriesPerChunk;
  std::vector<std::optional<QueryTables>> tables(num_chunks);
  ParallelFor(num_chunks, request.threads, [&](size_t c) {
    const size_t first = c * kQueriesPerChunk;
    const size_t count = std::min(kQueriesPerChunk, request.num_queries - first);
    tables[c].emplace(codec, &request.queries[first * options.dim], count,
                      ObjectiveFor(options.metric));
  });
  return tables;
}

const Codec::PreparedQuery& PreparedOf(const std::vector<std::optional<QueryTables>>& tables,
                                       size_t q) {
  return tables[q / kQueriesPerChunk]->data().prepared[q % kQueriesPerChunk];
}

std::vector<std::vector<Hit>> ScanSnapshot(const Snapshot& snapshot,
                                           const std::vector<std::optional<QueryTables>>& tables,
                                           const SearchRequest& request,
                                           const std::vector<LiveRows>& searchable) {
  const size_t num_chunks = tables.size();
  const std::vector<ScanTask> tasks = PlanScanTasks(snapshot, num_chunks, request.threads);
  std::vector<std::vector<std::vector<Candidate>>> found(tasks.size());
  ParallelFor(tasks.size(), request.threads, [&](size_t t) {
    const ScanTask& task = tasks[t];
    const LiveRows& rows = searchable[task.segment];
    const ScanLayout& layout = snapshot.segments[task.segment].segment->layout();
    // Filtered scans prefetch the blocks with searchable rows themselves.
    ScanForCandidates(layout, *tables[task.chunk], task.block_begin, task.block_end,
                      MaskOf(rows), request.rescore, &found[t]);
  });
  std::vector<std::vector<Hit>> hits(request.num_queries);
  for (size_t t = 0; t < tasks.size(); ++t) {
    for (size_t q = 0; q < found[t].size(); ++q) {
      auto& into = hits[tasks[t].chunk * kQueriesPerChunk + q];
      for (const Candidate& c : found[t][q]) {
        into.push_back({c.score, static_cast<uint32_t>(tasks[t].segment), c.row});
      }
    }
  }
  return hits;
}

// MseCodec's estimate of <query, row> for every hit, from the flat bytes
// that the scan layout keeps for MSE indices of 1, 2 or 4 bits: first every
// hit's bytes, which lie two per cache line of its block, so that their
// misses overlap (decoding each row right after its loads left them waiting
// one row at a time), then the estimates from that contiguous copy.
std::vector<float> MseInnerProducts(const Snapshot& snapshot, const MseCodec& codec,
                                    const CodeShape& shape, const Codec::PreparedQuery& prepared,
                                    const std::vector<Hit>& hits) {
  const size_t bytes = shape.mse.flat_bytes;
  std::vector<uint8_t> packed(hits.size() * bytes);
  std::vector<float> scalars(hits.size());
  for (size_t h = 0; h < hits.size(); ++h) {
    const ScanLayout::Data& data = snapshot.segments[hits[h].segment].segment->layout().data();
    const size_t v = hits[h].row % kBlockVectors;
    const uint8_t* at = data.block(hits[h].row / kBlockVectors) + BlockByteOffset(0, v);
    for (size_t g = 0; g < bytes; ++g) packed[h * bytes + g] = at[BlockByteOffset(g, 0)];
    scalars[h] = data.scalars[hits[h].row - v + FloatPosition(v)];
  }
  const float* centroids = codec.codebook().centroids().data();
  std::vector<float> ips(hits.size());
  if (shape.index_bits == 4) {
    MseEstimates4(packed.data(), hits.size(), centroids, prepared.rotated.data(), shape.dim,
                  scalars.data(), ips.data());
    return ips;
  }
  std::vector<float> reconstructed(shape.dim);
  for (size_t h = 0; h < hits.size(); ++h) {
    const auto estimate = [&](auto bits) {
      return MseEstimate<decltype(bits)::value>(&packed[h * bytes], centroids,
                                                prepared.rotated.data(), shape.dim, scalars[h],
                                                reconstructed.data());
    };
    ips[h] = shape.index_bits == 1 ? estimate(std::integral_constant<int, 1>())
                                   : estimate(std::integral_constant<int, 2>());
  }
  return ips;
}

// Sets hit.score of every hit to the codec's float estimate of the objective.
void EstimateHits(const Snapshot& snapshot, const Codec& codec, Metric metric,
                  const Codec::PreparedQuery& prepared, std::vector<Hit>* hits) {
  const auto objective = [metric](float ip, float norm) {
    return metric == Metric::kL2 ? 2 * ip - norm * norm : ip;
  };
  const CodeShape shape(codec);
  if (shape.kind != CodecKind::kMse || !shape.lookup_tables || shape.dense3) {
    std::vector<uint8_t> code(codec.code_size());
    for (Hit& hit : *hits) {
      snapshot.segments[hit.segment].segment->layout().ExtractCode(hit.row, code.data());
      hit.score = objective(codec.EstimateInnerProduct(prepared, code.data()),
                            codec.StoredNorm(code.data()));
    }
    return;
  }
  const std::vector<float> ips =
      MseInnerProducts(snapshot, static_cast<const MseCodec&>(codec), shape, prepared, *hits);
  for (size_t h = 0; h < hits->size(); ++h) {
    Hit& hit = (*hits)[h];
    const ScanLayout::Data& data = snapshot.segments[hit.segment].segment->layout().data();
    const size_t v = hit.row % kBlockVectors;
    hit.score = objective(ips[h], data.norms[hit.row - v + FloatPosition(v)]);
  }
}

// The float estimate of the codec (and, with rerank, exact scores from the
// kept vectors) for the best hits; returns the best k, best first.
std::vector<Hit> Rescore(const Snapshot& snapshot, const Codec& codec, const IndexOptions& options,
                         const SearchRequest& request, const float* query,
                         const Codec::PreparedQuery& prepared, std::vector<Hit> hits) {
  KeepBestHits(&hits, request.rescore);
  EstimateHits(snapshot, codec, options.metric, prepared, &hits);
  KeepBestHitsSorted(&hits, std::max(request.k, request.rerank));
  if (request.rerank == 0) return hits;
  hits.resize(std::min(request.rerank, hits.size()));
  for (Hit& hit : hits) {
    const float* x = snapshot.segments[hit.segment].segment->vector(hit.row);
    double ip = 0, norm2 = 0;
    for (int j = 0; j < options.dim; ++j) {
      ip += static_cast<double>(query[j]) * x[j];
      norm2 += static_cast<double>(x[j]) * x[j];
    }
    // Kept vectors are stored as added, so the cosine metric normalizes them
    // here (the query already is).
    if (options.metric == Metric::kCosine && norm2 > 0) ip /= std::sqrt(norm2);
    hit.score = static_cast<float>(options.metric == Metric::kL2 ? 2 * ip - norm2 : ip);
  }
  KeepBestHitsSorted(&hits, request.k);
  return hits;
}

}  // namespace

SearchResults SearchSnapshot(const Snapshot& snapshot, const Codec& codec,
                             const IndexOptions& options, const SearchRequest& request,
                             const Filter& filter) {
  SearchResults results;
  results.num_queries = static_cast<int>(request.num_queries);
  if (snapshot.live_count() == 0) return results;  // an empty index has no results
  results.k = static_cast<int>(request.k);
  results.ids.assign(request.num_queries * request.k, -1);
  results.scores.assign(request.num_queries * request.k, std::nanf(""));
  const std::vector<LiveRows> searchable = SearchableRows(snapshot, filter);
  const std::vector<std::optional<QueryTables>> tables = MakeTables(codec, options, request);
  std::vector<std::vector<Hit>> hits = ScanSnapshot(snapshot, tables, request, searchable);
  ParallelFor(request.num_queries, request.threads, [&](size_t q) {
    const float* query = &request.queries[q * options.dim];
    const std::vector<Hit> best = Rescore(snapshot, codec, options, request, query,
                                          PreparedOf(tables, q), std::move(hits[q]));
    float query_norm2 = 0;
    if (options.metric == Metric::kL2) {
      for (int j = 0; j < options.dim; ++j) query_norm2 += query[j] * query[j];
    }
    for (size_t j = 0; j < best.size(); ++j) {
      results.ids[q * request.k + j] = snapshot.segments[best[j].segment].segment->id(best[j].row);
      results.scores[q * request.k + j] = options.metric == Metric::kL2
                                              ? std::max(0.0f, query_norm2 - best[j].score)
                                              : best[j].score;
    }
  });
  return results;
}

}  // namespace turboquant::internal
