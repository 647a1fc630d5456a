// TurboQuantIndex behaviour: results, filters, threads and bad input.
#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

std::vector<int64_t> Iota(int n, int64_t first = 0) {
  std::vector<int64_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = first + i;
  return ids;
}

std::unique_ptr<TurboQuantIndex> MakeIndex(IndexOptions options, const std::vector<float>& data) {
  auto index = TurboQuantIndex::Create(options);
  EXPECT_TRUE(index.ok()) << index.status();
  const int n = static_cast<int>(data.size() / options.dim);
  EXPECT_TRUE((*index)->Add(Iota(n), data).ok());
  return std::move(*index);
}

// Exact top-k ids by the metric, for comparison.
std::vector<int64_t> ExactTopK(const std::vector<float>& data, const float* q, int dim, int k,
                               Metric metric) {
  const int n = static_cast<int>(data.size() / dim);
  std::vector<std::pair<double, int64_t>> scored(n);
  for (int i = 0; i < n; ++i) {
    double ip = 0, l2 = 0;
    for (int j = 0; j < dim; ++j) {
      ip += double(q[j]) * data[i * dim + j];
      l2 += (q[j] - data[i * dim + j]) * double(q[j] - data[i * dim + j]);
    }
    scored[i] = {metric == Metric::kL2 ? l2 : -ip, i};
  }
  std::partial_sort(scored.begin(), scored.begin() + k, scored.end());
  std::vector<int64_t> ids(k);
  for (int i = 0; i < k; ++i) ids[i] = scored[i].second;
  return ids;
}

TEST(IndexTest, ExactRerankOfEveryCandidateFindsTheTrueNeighbours) {
  for (Metric metric : {Metric::kInnerProduct, Metric::kL2}) {
    const auto data = testing::GaussianVectors(500, 48, 1);
    const auto queries = testing::GaussianVectors(5, 48, 2);
    auto index = MakeIndex({.dim = 48, .bits = 4, .metric = metric, .keep_vectors = true}, data);
    SearchParams params;
    params.k = 5;
    params.rescore = 500;
    params.rerank = 500;
    auto results = index->Search(queries, params);
    ASSERT_TRUE(results.ok()) << results.status();
    for (int q = 0; q < 5; ++q) {
      const auto exact = ExactTopK(data, &queries[q * 48], 48, 5, metric);
      const std::vector<int64_t> got(results->ids.begin() + q * 5, results->ids.begin() + q * 5 + 5);
      EXPECT_EQ(got, exact) << MetricName(metric) << " query " << q;
    }
  }
}

TEST(IndexTest, L2ScoresAreAscendingDistances) {
  const auto data = testing::GaussianVectors(300, 32, 3);
  const auto queries = testing::GaussianVectors(3, 32, 4);
  auto index = MakeIndex({.dim = 32, .metric = Metric::kL2}, data);
  auto results = index->Search(queries, {.k = 10});
  ASSERT_TRUE(results.ok());
  for (int q = 0; q < 3; ++q) {
    for (int j = 0; j < 10; ++j) {
      const int64_t id = results->ids[q * 10 + j];
      double exact = 0;
      for (int d = 0; d < 32; ++d) {
        const double diff = queries[q * 32 + d] - data[id * 32 + d];
        exact += diff * diff;
      }
      EXPECT_NEAR(results->scores[q * 10 + j], exact, 0.15 * exact);
      if (j > 0) EXPECT_LE(results->scores[q * 10 + j - 1], results->scores[q * 10 + j]);
    }
  }
}

TEST(IndexTest, CosineIgnoresVectorLength) {
  auto data = testing::UnitVectors(200, 64, 5);
  for (int i = 0; i < 200; ++i) {
    for (int j = 0; j < 64; ++j) data[i * 64 + j] *= 1.0f + i;  // very different norms
  }
  std::vector<float> query(data.begin() + 17 * 64, data.begin() + 18 * 64);
  auto index = MakeIndex({.dim = 64, .metric = Metric::kCosine}, data);
  auto results = index->Search(query, {.k = 1});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->ids[0], 17);
  EXPECT_NEAR(results->scores[0], 1.0f, 0.02f);
}

TEST(IndexTest, AllowListRestrictsResults) {
  const auto data = testing::GaussianVectors(1000, 32, 6);
  const auto queries = testing::GaussianVectors(4, 32, 7);
  auto index = MakeIndex({.dim = 32}, data);
  SearchParams params;
  params.k = 5;
  params.filter = Filter::AllowOnly({3, 500, 999, 123456});  // an unknown id is never returned
  auto results = index->Search(queries, params);
  ASSERT_TRUE(results.ok()) << results.status();
  for (int q = 0; q < 4; ++q) {
    std::vector<int64_t> got(results->ids.begin() + q * 5, results->ids.begin() + q * 5 + 5);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int64_t>{-1, -1, 3, 500, 999})) << "query " << q;
  }
}

TEST(IndexTest, ThreadCountDoesNotChangeResults) {
  const auto data = testing::GaussianVectors(20000, 64, 8);
  const auto queries = testing::GaussianVectors(70, 64, 9);
  for (CodecKind codec : {CodecKind::kMse, CodecKind::kProd}) {
    auto index = MakeIndex({.dim = 64, .bits = 4, .codec = codec}, data);
    auto one = index->Search(queries, {.k = 10, .threads = 1});
    ASSERT_TRUE(one.ok());
    for (int threads : {2, 3, 8}) {
      auto many = index->Search(queries, {.k = 10, .threads = threads});
      ASSERT_TRUE(many.ok());
      EXPECT_EQ(many->ids, one->ids) << "threads=" << threads;
    }
    // One query split over block ranges.
    std::vector<float> single(queries.begin(), queries.begin() + 64);
    auto split = index->Search(single, {.k = 10, .threads = 4});
    ASSERT_TRUE(split.ok());
    EXPECT_TRUE(std::equal(split->ids.begin(), split->ids.end(), one->ids.begin()));
  }
}

TEST(IndexTest, ConcurrentSearchesAgree) {
  const auto data = testing::GaussianVectors(5000, 32, 10);
  const auto queries = testing::GaussianVectors(20, 32, 11);
  auto index = MakeIndex({.dim = 32}, data);
  auto expected = index->Search(queries, {.k = 10});
  ASSERT_TRUE(expected.ok());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(6, 0);
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        auto got = index->Search(queries, {.k = 10});
        if (!got.ok() || got->ids != expected->ids) ++mismatches[t];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < 6; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST(IndexTest, EmptyIndexReturnsEmptyResults) {
  auto index = TurboQuantIndex::Create({.dim = 16});
  ASSERT_TRUE(index.ok());
  auto results = (*index)->Search(std::vector<float>(32, 0.5f), {.k = 3});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(results->num_queries, 2);
  EXPECT_TRUE(results->ids.empty());
  EXPECT_EQ((*index)->size(), 0);
}

TEST(IndexTest, AddOfAnExistingIdReplacesItsVector) {
  auto index = MakeIndex({.dim = 8, .keep_vectors = true}, testing::GaussianVectors(10, 8, 15));
  ASSERT_TRUE(index->Add({3}, std::vector<float>(8, 2.0f)).ok());
  EXPECT_EQ(index->size(), 10);
  EXPECT_EQ(*index->Get(3), std::vector<float>(8, 2.0f));
  auto results = index->Search(std::vector<float>(8, 1.0f), {.k = 1, .rerank = 10});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(results->ids[0], 3);
  EXPECT_EQ(*index->Remove({3, 3, 42}), 1);
  EXPECT_FALSE(index->Contains(3));
  EXPECT_EQ(index->Get(3).status().code(), absl::StatusCode::kNotFound);
}

TEST(IndexTest, ContainsAndStats) {
  auto index = MakeIndex({.dim = 16, .bits = 2, .keep_vectors = true},
                         testing::GaussianVectors(40, 16, 12));
  EXPECT_TRUE(index->Contains(39));
  EXPECT_FALSE(index->Contains(40));
  const IndexStats stats = index->Stats();
  EXPECT_EQ(stats.count, 40);
  EXPECT_EQ(stats.bytes_per_vector, 4u + 8u);
  EXPECT_EQ(stats.vector_bytes, 40u * 16 * 4);
  EXPECT_GE(stats.code_bytes, 40u * 12);
}

// A delete copies the live-row page it changes, not the segment's whole
// bitmap (200,000 rows: 25 KiB whole, pages of 2 KiB).
TEST(IndexTest, ADeleteHoldsOnlyTheBitmapPageItChanges) {
  constexpr int kRows = 200000;
  auto index = MakeIndex({.dim = 4, .bits = 2}, testing::GaussianVectors(kRows, 4, 16));
  ASSERT_TRUE(index->Compact().ok());
  ASSERT_EQ(index->Stats().segments, 1);
  EXPECT_EQ(index->Stats().live_bitmap_bytes, 0u);
  ASSERT_EQ(*index->Remove({7}), 1);
  const size_t one_page = index->Stats().live_bitmap_bytes;
  EXPECT_GE(one_page, 2048u);
  EXPECT_LT(one_page, 2048u + 1024u);
  ASSERT_EQ(*index->Remove({8, kRows - 1}), 2);  // the same page, and the last
  EXPECT_EQ(index->Stats().live_bitmap_bytes, one_page + 2048u);
  EXPECT_FALSE(index->Contains(7));
  EXPECT_TRUE(index->Contains(9));
  EXPECT_EQ(index->size(), kRows - 3);
}

Status SearchError(const TurboQuantIndex& index, const std::vector<float>& queries,
                   const SearchParams& params) {
  return index.Search(queries, params).status();
}

void ExpectErrorMentions(const Status& status, const std::string& text) {
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find(text), std::string::npos) << status;
}

TEST(IndexBadInputTest, SearchRejectsBadQueriesAndK) {
  auto index = MakeIndex({.dim = 8}, testing::GaussianVectors(20, 8, 13));
  ExpectErrorMentions(SearchError(*index, std::vector<float>(12, 0.f), {.k = 1}), "dimension 8");
  ExpectErrorMentions(SearchError(*index, {}, {.k = 1}), "dimension 8");
  ExpectErrorMentions(SearchError(*index, std::vector<float>(8, 0.f), {.k = 0}), "k must be positive");
  ExpectErrorMentions(SearchError(*index, std::vector<float>(8, 0.f), {.k = -3}), "k must be positive");
  ExpectErrorMentions(SearchError(*index, std::vector<float>(8, 0.f), {.k = 21}), "exceeds the 20");
  std::vector<float> nan_query(16, 0.f);
  nan_query[8 + 3] = NAN;
  ExpectErrorMentions(SearchError(*index, nan_query, {.k = 1}), "query 1");
  ExpectErrorMentions(SearchError(*index, std::vector<float>(8, 0.f), {.k = 1, .rerank = 5}),
                      "keep_vectors");
}

TEST(IndexBadInputTest, AddRejectsBadIdsAndVectors) {
  auto index = MakeIndex({.dim = 4}, testing::GaussianVectors(3, 4, 14));
  const std::vector<float> two(8, 1.0f);
  ExpectErrorMentions((*index).Add({7, 7}, two), "id 7 appears more than once");
  ExpectErrorMentions((*index).Add({-5, 8}, two), "negative");
  ExpectErrorMentions((*index).Add({8}, two), "expected 4");
  std::vector<float> inf = two;
  inf[6] = INFINITY;
  ExpectErrorMentions((*index).Add({8, 9}, inf), "vector 1");
  EXPECT_EQ(index->size(), 3) << "a failed Add must not add anything";
  EXPECT_FALSE(index->Contains(8));
}

TEST(IndexBadInputTest, CreateRejectsBadOptions) {
  EXPECT_FALSE(TurboQuantIndex::Create({.dim = 1}).ok());
  EXPECT_FALSE(TurboQuantIndex::Create({.dim = 16, .bits = 1, .codec = CodecKind::kProd}).ok());
  EXPECT_FALSE(ParseMetric("dot").ok());
  EXPECT_EQ(*ParseMetric("cosine"), Metric::kCosine);
}

}  // namespace
}  // namespace turboquant
