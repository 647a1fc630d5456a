// The search path's parts: filter row masks against brute force (unsorted
// ids, ids stored twice, tombstones), the shared thread pool under many
// callers, the lock-free snapshot holder, the candidate set of the scan against
// a sort, and re-scored results against the codec's own float estimates.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "src/index/filter_rows.h"
#include "src/index/parallel.h"
#include "src/index/search_request.h"
#include "src/index/snapshot.h"
#include "src/index/snapshot_search.h"
#include "src/scan/top_candidates.h"
#include "src/util/random.h"
#include "turboquant/codec.h"
#include "turboquant/index.h"

namespace turboquant::internal {
namespace {

constexpr int kDim = 8;
constexpr size_t kRows = 3000;

// A segment whose ids are shuffled, with some ids stored twice (an upsert
// inside one chunk) and every fifth row dead.
struct MixedSegment {
  std::unique_ptr<Codec> codec = *Codec::Create(CodecKind::kMse, {.dim = kDim, .bits = 4});
  SnapshotSegment segment;

  MixedSegment() {
    SeededRandom random(5);
    std::vector<int64_t> ids(kRows);
    for (size_t i = 0; i < kRows; ++i) ids[i] = static_cast<int64_t>(3 * i + random.Below(3));
    for (size_t i = kRows - 1; i > 0; --i) std::swap(ids[i], ids[random.Below(i + 1)]);
    for (size_t i = 0; i < kRows; i += 97) ids[i] = ids[i + 1];
    std::vector<uint8_t> codes(kRows * codec->code_size());
    std::vector<float> vectors(kRows * kDim, 1.0f);
    EXPECT_TRUE(codec->Encode(vectors, absl::MakeSpan(codes)).ok());
    ScanLayout layout(*codec);
    layout.Append(codes.data(), kRows);
    segment.segment = std::make_shared<Segment>(std::move(layout), std::move(ids),
                                                KeptVectors(), std::vector<uint64_t>{});
    auto live = MutableLive(nullptr, kRows);
    for (size_t row = 0; row < kRows; row += 5) live->Clear(row);
    segment.live = live;
  }
};

void ExpectMaskIsBruteForce(const MixedSegment& data, const Filter& filter) {
  const LiveRows rows = FilterAccess::SearchableRows(filter, data.segment);
  for (size_t row = 0; row < kRows; ++row) {
    const bool expected =
        IsLive(data.segment.live, row) && filter.Matches(data.segment.segment->id(row));
    ASSERT_EQ(IsLive(rows, row), expected) << "row " << row;
  }
}

TEST(FilterRowsTest, AllowAndExcludeMasksEqualBruteForce) {
  const MixedSegment data;
  SeededRandom random(9);
  for (size_t listed : {size_t{0}, size_t{1}, size_t{30}, size_t{900}, size_t{20000}}) {
    std::vector<int64_t> ids;
    for (size_t i = 0; i < listed; ++i) ids.push_back(static_cast<int64_t>(random.Below(9100)) - 50);
    SCOPED_TRACE(listed);
    ExpectMaskIsBruteForce(data, Filter::AllowOnly(ids));
    ExpectMaskIsBruteForce(data, Filter::Exclude(ids));
  }
  auto bitmap = std::make_shared<std::vector<uint64_t>>(150, 0x5555555555555555u);
  ExpectMaskIsBruteForce(data, Filter::FromBitmap(bitmap));
  ExpectMaskIsBruteForce(data, Filter());
}

TEST(FilterRowsTest, ConsecutiveIdsNeedNoPermutation) {
  MixedSegment data;
  std::vector<int64_t> ids(kRows);
  for (size_t i = 0; i < kRows; ++i) ids[i] = static_cast<int64_t>(i) + 100;
  data.segment.segment = std::make_shared<Segment>(data.segment.segment->layout().Clone(),
                                                   std::move(ids), KeptVectors(),
                                                   std::vector<uint64_t>{});
  ExpectMaskIsBruteForce(data, Filter::AllowOnly({99, 100, 101, 1500, 3099, 3100}));
  ExpectMaskIsBruteForce(data, Filter::Exclude({100, 2000}));
}

TEST(ThreadPoolTest, ReusedBySuccessiveAndConcurrentCallers) {
  std::atomic<int> sum{0};
  ParallelFor(64, 4, [&](size_t task) { sum += static_cast<int>(task); });
  EXPECT_EQ(sum.load(), 64 * 63 / 2);
  const size_t started = PoolThreadsStarted();
  EXPECT_LE(started, 3u);

  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 16; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        std::vector<std::atomic<int>> runs(37);
        ParallelFor(runs.size(), 4, [&](size_t task) { runs[task]++; });
        for (const auto& r : runs) wrong += r.load() != 1;
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(wrong.load(), 0);
  // 3200 calls later the pool holds the threads the first call started.
  EXPECT_EQ(PoolThreadsStarted(), started);
}

TEST(SnapshotHolderTest, ReadersKeepTheirSnapshotWhileWritersPublish) {
  SnapshotHolder holder(std::make_shared<Snapshot>());
  std::atomic<bool> stop{false};
  std::atomic<int> inconsistent{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        const SnapshotRef ref = holder.Load();
        const size_t size = ref->segments.size();
        std::this_thread::yield();
        inconsistent += ref->segments.size() != size;
        const std::shared_ptr<const Snapshot> kept = ref;
        inconsistent += kept->segments.size() != size;
      }
    });
  }
  for (int version = 1; version <= 2000; ++version) {
    auto next = std::make_shared<Snapshot>();
    next->segments.resize(version % 7);
    holder.Store(std::move(next));
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_EQ(holder.Load()->segments.size(), 2000u % 7);
}

// TopCandidates keeps exactly the best `keep` of everything pushed (ties to
// the smaller row; rows come in ascending order, as a scan pushes them) for
// scores with many ties and both zeros, across many cuts.
TEST(TopCandidatesTest, KeepsTheBestOfEverythingPushed) {
  SeededRandom random(17);
  for (size_t keep : {1, 2, 5, 16, 17, 64, 100}) {
    for (int distinct : {3, 50, 1 << 20}) {
      SCOPED_TRACE(testing::Message() << "keep " << keep << " distinct " << distinct);
      std::vector<Candidate> pushed;
      std::vector<Candidate> kept;
      {
        TopCandidates top(&kept, keep);
        uint32_t row = 0;
        for (int i = 0; i < 5000; ++i) {
          row += 1 + static_cast<uint32_t>(random.Below(3));
          float score = static_cast<float>(random.Below(distinct)) - distinct / 2;
          if (score == 0 && random.Below(2) == 0) score = -0.0f;
          pushed.push_back({score, row});
          top.Push(score, row);
        }
      }
      std::sort(pushed.begin(), pushed.end(), [](const Candidate& a, const Candidate& b) {
        return a.score > b.score || (a.score == b.score && a.row < b.row);
      });
      ASSERT_EQ(kept.size(), keep);
      std::sort(kept.begin(), kept.end(), [](const Candidate& a, const Candidate& b) {
        return a.score > b.score || (a.score == b.score && a.row < b.row);
      });
      for (size_t i = 0; i < keep; ++i) {
        ASSERT_EQ(kept[i].score, pushed[i].score) << i;
        ASSERT_EQ(kept[i].row, pushed[i].row) << i;
      }
    }
  }
}

// With every row re-scored, a search returns exactly the codec's float
// estimates, best first: the re-score reads some codes in place from the scan
// layout (MSE indices of 1, 2 and 4 bits), others through their flat codes,
// and both must give the bits Codec::EstimateInnerProduct gives. Dims that
// leave a partial last byte included.
TEST(SearchSnapshotTest, RescoredScoresAreTheCodecEstimates) {
  constexpr size_t kCount = 300, kQueries = 3;
  constexpr int kK = 20;
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    for (int bits : {1, 2, 3, 4, 5}) {
      if (kind == CodecKind::kProd && bits == 1) continue;
      for (int dim : {8, 13, 66}) {
        for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
          SCOPED_TRACE(testing::Message() << "kind " << int(kind) << " bits " << bits << " dim "
                                          << dim << " metric " << int(metric));
          std::unique_ptr<Codec> codec = *Codec::Create(kind, {.dim = dim, .bits = bits});
          SeededRandom random(dim * 10 + bits);
          std::vector<float> vectors(kCount * dim), queries(kQueries * dim);
          for (float& x : vectors) x = static_cast<float>(random.Normal());
          for (float& x : queries) x = static_cast<float>(random.Normal());
          std::vector<uint8_t> codes(kCount * codec->code_size());
          ASSERT_TRUE(codec->Encode(vectors, absl::MakeSpan(codes)).ok());
          ScanLayout layout(*codec);
          layout.Append(codes.data(), kCount);
          std::vector<int64_t> ids(kCount);
          std::iota(ids.begin(), ids.end(), int64_t{0});
          Snapshot snapshot;
          snapshot.segments.push_back(
              {std::make_shared<Segment>(std::move(layout), ids, KeptVectors(),
                                         std::vector<uint64_t>{}),
               nullptr, kCount});
          const IndexOptions options{.dim = dim, .bits = bits, .codec = kind, .metric = metric};
          auto request = MakeSearchRequest(options, kCount, queries,
                                           {.k = kK, .rescore = int{kCount}, .threads = 1});
          ASSERT_TRUE(request.ok());
          const SearchResults results = SearchSnapshot(snapshot, *codec, options, *request, {});
          for (size_t q = 0; q < kQueries; ++q) {
            const float* query = &queries[q * dim];
            float query_norm2 = 0;
            for (int j = 0; j < dim; ++j) query_norm2 += query[j] * query[j];
            std::vector<std::pair<float, int64_t>> expected;
            for (size_t row = 0; row < kCount; ++row) {
              const uint8_t* code = &codes[row * codec->code_size()];
              const float ip = codec->EstimateInnerProduct(query, code);
              const float norm = codec->StoredNorm(code);
              expected.push_back(
                  {metric == Metric::kL2 ? 2 * ip - norm * norm : ip, static_cast<int64_t>(row)});
            }
            std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
              return a.first != b.first ? a.first > b.first : a.second < b.second;
            });
            for (int j = 0; j < kK; ++j) {
              ASSERT_EQ(results.ids[q * kK + j], expected[j].second)
                  << "query " << q << " rank " << j;
              const float score = metric == Metric::kL2
                                      ? std::max(0.0f, query_norm2 - expected[j].first)
                                      : expected[j].first;
              ASSERT_EQ(results.scores[q * kK + j], score) << "query " << q << " rank " << j;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace turboquant::internal
