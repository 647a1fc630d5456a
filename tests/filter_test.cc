// Filter semantics (include/turboquant/filter.h) checked against brute force
// on a durable collection whose rows lie in several sealed segments and in
// unsealed write-ahead chunks, with tombstones and upserts, and again after
// Compact and after reopening. Searches re-rank every candidate with the
// kept vectors, so their results are exact and must equal the brute-force
// top k of the rows the filter allows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "turboquant/filter.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

constexpr int kDim = 16;
constexpr int kSealRows = 64;
constexpr int kSealedBatches = 4;  // ids 0..255, one sealed segment each
constexpr int kUnsealedRows = 40;  // ids 256..295 stay in the write-ahead
constexpr int kNumQueries = 4;
constexpr int64_t kUnknownId = 1000000;

// Larger than every row ever stored, so the scan passes every live row on
// and the exact re-rank orders them all.
constexpr int kEveryCandidate = 1000;

enum class Stage { kFresh, kCompacted, kReopened };

std::vector<float> Row(const std::vector<float>& rows, int i) {
  return {rows.begin() + i * kDim, rows.begin() + (i + 1) * kDim};
}

double SquaredDistance(const float* a, const std::vector<float>& b) {
  double sum = 0;
  for (int j = 0; j < kDim; ++j) sum += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
  return sum;
}

class FilterTest : public ::testing::TestWithParam<Stage> {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("filter") + "/c";
    auto created = TurboQuantIndex::Create(
        dir_, {.dim = kDim, .bits = 4, .metric = Metric::kL2, .keep_vectors = true},
        {.seal_rows = kSealRows, .background_work = false});
    ASSERT_TRUE(created.ok()) << created.status();
    index_ = std::move(*created);
    BuildMixedCollection();
    switch (GetParam()) {
      case Stage::kFresh:
        break;
      case Stage::kCompacted:
        ASSERT_TRUE(index_->Compact().ok());
        ASSERT_EQ(index_->Stats().deleted, 0);
        // Fresh writes on top of the compacted segment.
        Put(400, testing::GaussianVectors(1, kDim, 40));
        Put(401, testing::GaussianVectors(1, kDim, 41));
        Delete({5, 400});
        break;
      case Stage::kReopened:
        index_.reset();
        auto reopened = TurboQuantIndex::Open(dir_);
        ASSERT_TRUE(reopened.ok()) << reopened.status();
        index_ = std::move(*reopened);
        break;
    }
    ASSERT_EQ(index_->size(), static_cast<int64_t>(live_.size()));
    queries_ = testing::GaussianVectors(kNumQueries, kDim, 99);
  }

  // Four sealed segments, an unsealed tail, tombstones in both, and upserts
  // that moved sealed and unsealed ids to new rows.
  void BuildMixedCollection() {
    const std::vector<float> base =
        testing::GaussianVectors(kSealedBatches * kSealRows + kUnsealedRows, kDim, 1);
    for (int batch = 0; batch < kSealedBatches; ++batch) {
      std::vector<int64_t> ids;
      for (int i = 0; i < kSealRows; ++i) ids.push_back(batch * kSealRows + i);
      PutBatch(ids, {base.begin() + ids.front() * kDim, base.begin() + (ids.back() + 1) * kDim});
      ASSERT_TRUE(index_->Flush().ok());
    }
    std::vector<int64_t> tail;
    for (int i = 0; i < kUnsealedRows; ++i) tail.push_back(kSealedBatches * kSealRows + i);
    PutBatch(tail, {base.begin() + tail.front() * kDim, base.end()});
    Delete({3, 70, 140, 200, 260, 270});
    const std::vector<float> upserts = testing::GaussianVectors(3, kDim, 2);
    PutBatch({10, 80, 265}, upserts);

    const IndexStats stats = index_->Stats();
    ASSERT_GE(stats.segments, kSealedBatches + 1);
    ASSERT_GT(stats.unsealed, 0);
    ASSERT_GT(stats.deleted, 0);
  }

  void PutBatch(const std::vector<int64_t>& ids, const std::vector<float>& vectors) {
    ASSERT_TRUE(index_->Add(ids, vectors).ok());
    for (size_t i = 0; i < ids.size(); ++i) live_[ids[i]] = Row(vectors, static_cast<int>(i));
  }
  void Put(int64_t id, const std::vector<float>& vector) { PutBatch({id}, vector); }
  void Delete(const std::vector<int64_t>& ids) {
    auto removed = index_->Remove(ids);
    ASSERT_TRUE(removed.ok()) << removed.status();
    for (int64_t id : ids) live_.erase(id);
  }

  // The k nearest live ids that `allowed` accepts, padded with -1.
  template <typename Allowed>
  std::vector<int64_t> BruteForce(int q, int k, Allowed allowed) const {
    std::vector<std::pair<double, int64_t>> scored;
    for (const auto& [id, vector] : live_) {
      if (allowed(id)) scored.push_back({SquaredDistance(&queries_[q * kDim], vector), id});
    }
    std::sort(scored.begin(), scored.end());
    std::vector<int64_t> ids(k, -1);
    for (int j = 0; j < k && j < static_cast<int>(scored.size()); ++j) ids[j] = scored[j].second;
    return ids;
  }

  StatusOr<SearchResults> Search(const Filter& filter, int k) const {
    SearchParams params;
    params.k = k;
    params.rescore = kEveryCandidate;
    params.rerank = kEveryCandidate;
    params.threads = 2;
    params.filter = filter;
    return index_->Search(queries_, params);
  }

  // Every query's results equal the brute-force top k of the allowed rows;
  // padding slots (id -1) score NaN and real ones do not.
  template <typename Allowed>
  void ExpectExact(const Filter& filter, int k, Allowed allowed) const {
    auto results = Search(filter, k);
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->k, k);
    for (int q = 0; q < kNumQueries; ++q) {
      const std::vector<int64_t> got(results->ids.begin() + q * k,
                                     results->ids.begin() + (q + 1) * k);
      EXPECT_EQ(got, BruteForce(q, k, allowed)) << "query " << q;
      for (int j = 0; j < k; ++j) {
        EXPECT_EQ(std::isnan(results->scores[q * k + j]), got[j] == -1)
            << "query " << q << " slot " << j;
      }
    }
  }

  std::string dir_;
  std::unique_ptr<TurboQuantIndex> index_;
  std::map<int64_t, std::vector<float>> live_;  // what the index must hold
  std::vector<float> queries_;
};

// Sealed, unsealed and upserted ids, removed ids and ids never added.
std::vector<int64_t> MixedAllowList() {
  std::vector<int64_t> ids = {0, 1, 2, 64, 130, 199, 257, 290};    // live as first added
  for (int64_t id : {10, 80, 265, 401}) ids.push_back(id);          // upserted, or added late
  for (int64_t id : {3, 70, 140, 200, 260, 270}) ids.push_back(id);  // removed
  for (int64_t id : {kUnknownId, int64_t{-7}}) ids.push_back(id);    // never added
  return ids;
}

bool Listed(const std::vector<int64_t>& list, int64_t id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

TEST_P(FilterTest, AllowOnlyReturnsTheNearestAllowedLiveIds) {
  const std::vector<int64_t> allow = MixedAllowList();
  ExpectExact(Filter::AllowOnly(allow), 5, [&](int64_t id) { return Listed(allow, id); });
}

TEST_P(FilterTest, AllowOnlyPadsWithMinusOneWhenKExceedsTheAllowedCount) {
  const std::vector<int64_t> allow = MixedAllowList();
  const auto allowed = [&](int64_t id) { return Listed(allow, id); };
  // More slots than allowed rows, and more than the index holds.
  ExpectExact(Filter::AllowOnly(allow), 30, allowed);
  ExpectExact(Filter::AllowOnly(allow), static_cast<int>(live_.size()) + 50, allowed);
}

// A filter object kept and searched with again (as a service keeps a
// tenant's list; it remembers the rows it found in each segment) follows
// removes, upserts, new rows and a compaction made after its first use.
TEST_P(FilterTest, AReusedFilterFollowsLaterWrites) {
  std::vector<int64_t> allow = MixedAllowList();
  allow.push_back(500);
  const auto allowed = [&](int64_t id) { return Listed(allow, id); };
  const Filter allow_filter = Filter::AllowOnly(allow);
  const Filter exclude_filter = Filter::Exclude(allow);
  ExpectExact(allow_filter, 8, allowed);
  ExpectExact(exclude_filter, 8, [&](int64_t id) { return !allowed(id); });
  Delete({0, 64});
  Put(1, testing::GaussianVectors(1, kDim, 50));
  Put(500, testing::GaussianVectors(1, kDim, 51));
  ExpectExact(allow_filter, 8, allowed);
  ASSERT_TRUE(index_->Compact().ok());
  Delete({2});
  ExpectExact(allow_filter, 8, allowed);
  ExpectExact(exclude_filter, 8, [&](int64_t id) { return !allowed(id); });
}

TEST_P(FilterTest, EmptyAllowListMatchesNothing) {
  for (const Filter& filter :
       {Filter::AllowOnly({}), Filter::AllowOnly({3, 260, kUnknownId, -1})}) {
    auto results = Search(filter, 10);
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->ids.size(), size_t{kNumQueries * 10});
    for (size_t i = 0; i < results->ids.size(); ++i) {
      EXPECT_EQ(results->ids[i], -1) << "slot " << i;
      EXPECT_TRUE(std::isnan(results->scores[i])) << "slot " << i;
    }
  }
}

TEST_P(FilterTest, ExcludeDropsTheListedIds) {
  // The true nearest neighbours of every query, so exclusion must change
  // the answer; plus removed and unknown ids, which change nothing.
  std::vector<int64_t> exclude = {3, 260, kUnknownId, -1};
  for (int q = 0; q < kNumQueries; ++q) {
    for (int64_t id : BruteForce(q, 3, [](int64_t) { return true; })) exclude.push_back(id);
  }
  ExpectExact(Filter::Exclude(exclude), 10, [&](int64_t id) { return !Listed(exclude, id); });
}

TEST_P(FilterTest, EmptyExcludeListMatchesEverything) {
  const auto every = [](int64_t) { return true; };
  ExpectExact(Filter(), 10, every);
  ExpectExact(Filter::Exclude({}), 10, every);
  // Unlike no filter at all, a filter may ask for more than the index holds.
  ExpectExact(Filter::Exclude({}), static_cast<int>(live_.size()) + 7, every);
}

TEST_P(FilterTest, BitmapMatchesExactlyItsSetBits) {
  // Bits for ids 0..127 only: a short bitmap, so every id past it (the
  // later sealed segments and the unsealed rows) must not match.
  auto words = std::make_shared<std::vector<uint64_t>>(2, 0);
  for (int64_t id : {0, 1, 3, 10, 17, 63, 64, 70, 80, 100, 127}) {
    (*words)[id / 64] |= uint64_t{1} << (id % 64);
  }
  const auto set = [&](int64_t id) {
    return id >= 0 && id < 128 && ((*words)[id / 64] >> (id % 64) & 1) != 0;
  };
  ExpectExact(Filter::FromBitmap(words), 5, set);
  ExpectExact(Filter::FromBitmap(words), 20, set);
}

TEST_P(FilterTest, EmptyOrMissingBitmapMatchesNothing) {
  for (const Filter& filter : {Filter::FromBitmap(nullptr),
                               Filter::FromBitmap(std::make_shared<std::vector<uint64_t>>())}) {
    auto results = Search(filter, 3);
    ASSERT_TRUE(results.ok()) << results.status();
    EXPECT_EQ(results->ids, std::vector<int64_t>(kNumQueries * 3, -1));
  }
}

INSTANTIATE_TEST_SUITE_P(Stages, FilterTest,
                         ::testing::Values(Stage::kFresh, Stage::kCompacted, Stage::kReopened),
                         [](const ::testing::TestParamInfo<Stage>& info) {
                           switch (info.param) {
                             case Stage::kFresh:
                               return "Fresh";
                             case Stage::kCompacted:
                               return "Compacted";
                             case Stage::kReopened:
                               return "Reopened";
                           }
                           return "Unknown";
                         });

// Filter::Matches on its own, at the edges of each kind.
TEST(FilterMatchesTest, EachKindMeansExactlyWhatItSays) {
  EXPECT_TRUE(Filter().matches_all());
  EXPECT_TRUE(Filter().Matches(std::numeric_limits<int64_t>::min()));

  const Filter none = Filter::AllowOnly({});
  EXPECT_FALSE(none.matches_all());
  for (int64_t id : {int64_t{-1}, int64_t{0}, int64_t{1}, std::numeric_limits<int64_t>::max()}) {
    EXPECT_FALSE(none.Matches(id)) << id;
  }
  const Filter all = Filter::Exclude({});
  EXPECT_FALSE(all.matches_all());
  for (int64_t id : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0},
                     std::numeric_limits<int64_t>::max()}) {
    EXPECT_TRUE(all.Matches(id)) << id;
  }
  const Filter allow = Filter::AllowOnly({5, -2, 5});
  EXPECT_TRUE(allow.Matches(5));
  EXPECT_TRUE(allow.Matches(-2));
  EXPECT_FALSE(allow.Matches(4));
  const Filter exclude = Filter::Exclude({5});
  EXPECT_FALSE(exclude.Matches(5));
  EXPECT_TRUE(exclude.Matches(6));
}

TEST(FilterMatchesTest, NegativeIdsNeverMatchABitmap) {
  const Filter full = Filter::FromBitmap(std::make_shared<std::vector<uint64_t>>(4, ~uint64_t{0}));
  EXPECT_TRUE(full.Matches(0));
  EXPECT_TRUE(full.Matches(255));
  EXPECT_FALSE(full.Matches(256));  // past the end
  for (int64_t id : {int64_t{-1}, int64_t{-64}, std::numeric_limits<int64_t>::min()}) {
    EXPECT_FALSE(full.Matches(id)) << id;
  }
  EXPECT_FALSE(full.Matches(std::numeric_limits<int64_t>::max()));
}

}  // namespace
}  // namespace turboquant
