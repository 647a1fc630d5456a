// TurboQuantIndex::BulkLoad: equal to Add, upserts, the errors that leave the
// index as it was, segment cuts, and what a reopen sees. Its crash safety is
// walked in power_loss_test; its speed is measured in bench/bulk_load_bench.
#include "turboquant/bulk_load.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/file_gates.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

namespace fs = std::filesystem;

constexpr int kDim = 24;

std::vector<int64_t> Range(int64_t first, int64_t count) {
  std::vector<int64_t> ids(count);
  for (int64_t i = 0; i < count; ++i) ids[i] = first + i;
  return ids;
}

StatusOr<BulkLoadResult> Load(TurboQuantIndex& index, const std::vector<int64_t>& ids,
                              const std::vector<float>& vectors, BulkLoadOptions options = {},
                              int64_t batch_rows = 100) {
  std::unique_ptr<RowSource> source = RowSourceFromSpans(ids, vectors, kDim, batch_rows);
  return index.BulkLoad(*source, options);
}

std::set<std::string> SegmentFiles(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir + "/segments")) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// Both indexes answer every query with the same ids and scores.
void ExpectSameSearches(const TurboQuantIndex& a, const TurboQuantIndex& b, int rerank) {
  const std::vector<float> queries = testing::GaussianVectors(20, kDim, 99);
  auto ra = a.Search(queries, {.k = 10, .rerank = rerank});
  auto rb = b.Search(queries, {.k = 10, .rerank = rerank});
  ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status() << rb.status();
  EXPECT_EQ(ra->ids, rb->ids);
  EXPECT_EQ(ra->scores, rb->scores);
}

struct Case {
  Metric metric;
  bool keep_vectors;
  bool durable;
};

class BulkLoadEqualsAdd : public ::testing::TestWithParam<Case> {};

TEST_P(BulkLoadEqualsAdd, SameSearchesAndVectors) {
  const Case c = GetParam();
  const IndexOptions options{.dim = kDim, .metric = c.metric, .keep_vectors = c.keep_vectors};
  const std::string root = testing::MakeTempDir("bulk_equal");
  auto make = [&](const std::string& name) {
    return c.durable ? TurboQuantIndex::Create(root + "/" + name, options)
                     : TurboQuantIndex::Create(options);
  };
  // 1000 rows in batches of 100 starting mid-block, on 3 threads: tasks,
  // partial blocks and batch edges all differ from Add's single append.
  const std::vector<float> data = testing::GaussianVectors(1000, kDim, 1);
  std::vector<int64_t> ids = Range(0, 1000);
  for (int64_t& id : ids) id = id * 7 + 3;
  auto added = make("added");
  auto loaded = make("loaded");
  ASSERT_TRUE(added.ok() && loaded.ok());
  ASSERT_TRUE((*added)->Add(ids, data).ok());
  ASSERT_TRUE((*added)->Flush().ok());
  auto result = Load(**loaded, ids, data, {.threads = 3}, 90);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rows, 1000);
  EXPECT_EQ(result->replaced, 0);
  EXPECT_EQ(result->segments, 1);
  EXPECT_EQ((*loaded)->size(), 1000);
  ExpectSameSearches(**added, **loaded, c.keep_vectors ? 50 : 0);
  for (int64_t id : {3, 10, 6996}) {
    auto a = (*added)->Get(id);
    auto b = (*loaded)->Get(id);
    ASSERT_TRUE(a.ok() && b.ok()) << id;
    EXPECT_EQ(*a, *b) << id;
  }
  if (c.durable) EXPECT_TRUE((*loaded)->Verify().ok());
}

INSTANTIATE_TEST_SUITE_P(Metrics, BulkLoadEqualsAdd,
                         ::testing::Values(Case{Metric::kL2, true, true},
                                           Case{Metric::kCosine, false, true},
                                           Case{Metric::kInnerProduct, true, false},
                                           Case{Metric::kCosine, true, false}),
                         [](const auto& info) {
                           return std::string(MetricName(info.param.metric)) +
                                  (info.param.keep_vectors ? "Kept" : "") +
                                  (info.param.durable ? "Durable" : "InMemory");
                         });

TEST(BulkLoadTest, UpsertsReplaceSealedAndUnsealedRowsAndSurviveReopen) {
  const std::string dir = testing::MakeTempDir("bulk_upsert") + "/c";
  const std::vector<float> v0 = testing::GaussianVectors(300, kDim, 1);
  const std::vector<float> v1 = testing::GaussianVectors(200, kDim, 2);
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kDim, .keep_vectors = true});
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE((*index)->Add(Range(0, 200), {v0.data(), 200 * kDim}).ok());
    ASSERT_TRUE((*index)->Flush().ok());  // ids 0..199 sealed
    ASSERT_TRUE((*index)->Add(Range(200, 100), {v0.data() + 200 * kDim, 100 * kDim}).ok());
    // Ids 150..349: 100 sealed, 50 unsealed, 50 new.
    auto result = Load(**index, Range(150, 200), v1);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->replaced, 150);
    EXPECT_EQ((*index)->size(), 350);
  }
  OpenOptions tuning;
  auto index = TurboQuantIndex::Open(dir, tuning);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)->size(), 350);
  EXPECT_TRUE((*index)->Verify().ok());
  for (int64_t id : {0, 149, 150, 250, 299, 349}) {
    auto got = (*index)->Get(id);
    ASSERT_TRUE(got.ok()) << id;
    const float* want = id < 150 ? &v0[id * kDim] : &v1[(id - 150) * kDim];
    EXPECT_EQ(*got, std::vector<float>(want, want + kDim)) << id;
  }
  auto hits = (*index)->Search({&v1[60 * kDim], kDim}, {.k = 1, .rerank = 10});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->ids[0], 210);
}

// A load that commits while Compact is merging the whole collection lands
// beside the compacted segments: nothing is lost or doubled, and it reopens.
TEST(BulkLoadTest, LoadDuringCompactionKeepsBothAndReopens) {
  const std::string dir = testing::MakeTempDir("bulk_compact") + "/c";
  const std::vector<float> v0 = testing::GaussianVectors(300, kDim, 1);
  const std::vector<float> v1 = testing::GaussianVectors(100, kDim, 2);
  auto gate = std::make_shared<testing::SegmentFileGate>();
  OpenOptions open{.background_work = false};
  open.file_system = gate;
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = kDim, .keep_vectors = true}, open);
    ASSERT_TRUE(index.ok()) << index.status();
    ASSERT_TRUE((*index)->Add(Range(0, 200), {v0.data(), 200 * kDim}).ok());
    ASSERT_TRUE((*index)->Flush().ok());  // one sealed segment, then a chunk
    ASSERT_TRUE((*index)->Add(Range(200, 100), {v0.data() + 200 * kDim, 100 * kDim}).ok());
    gate->Arm();
    Status compacted;
    std::thread compaction([&] { compacted = (*index)->Compact(); });
    gate->WaitUntilHeld();
    // Ids 250..349: 50 replace rows of the claimed chunk, 50 are new.
    auto loaded = Load(**index, Range(250, 100), v1);
    gate->Release();
    compaction.join();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->replaced, 50);
    ASSERT_TRUE(compacted.ok()) << compacted;
    EXPECT_EQ((*index)->size(), 350);
    EXPECT_TRUE((*index)->Verify().ok());
  }
  auto index = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)->size(), 350);
  EXPECT_TRUE((*index)->Verify().ok());
  for (int64_t id : {0, 199, 200, 249, 250, 299, 300, 349}) {
    auto got = (*index)->Get(id);
    ASSERT_TRUE(got.ok()) << id << ": " << got.status();
    const float* want = id < 250 ? &v0[id * kDim] : &v1[(id - 250) * kDim];
    EXPECT_EQ(*got, std::vector<float>(want, want + kDim)) << id;
  }
}

// Every refused load leaves the index and its segment directory as they were.
class BulkLoadErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("bulk_errors") + "/c";
    auto index = TurboQuantIndex::Create(dir_, {.dim = kDim});
    ASSERT_TRUE(index.ok());
    index_ = std::move(*index);
    ASSERT_TRUE(index_->Add(Range(0, 50), testing::GaussianVectors(50, kDim, 1)).ok());
    ASSERT_TRUE(index_->Flush().ok());
    files_ = SegmentFiles(dir_);
  }
  void ExpectUnchanged() {
    EXPECT_EQ(index_->size(), 50);
    EXPECT_EQ(SegmentFiles(dir_), files_);
    EXPECT_TRUE(index_->Verify().ok());
  }
  std::string dir_;
  std::unique_ptr<TurboQuantIndex> index_;
  std::set<std::string> files_;
};

TEST_F(BulkLoadErrorTest, DuplicateIdIsNamed) {
  std::vector<int64_t> ids = Range(100, 500);
  ids[420] = 117;  // in a later batch and a later segment than its first use
  auto result =
      Load(*index_, ids, testing::GaussianVectors(500, kDim, 2), {.memory_budget_bytes = 8192});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("id 117 appears more than once"), std::string::npos)
      << result.status();
  ExpectUnchanged();
}

TEST_F(BulkLoadErrorTest, NonFiniteValueNamesIdAndRow) {
  std::vector<float> vectors = testing::GaussianVectors(500, kDim, 2);
  vectors[333 * kDim + 5] = NAN;
  auto result = Load(*index_, Range(1000, 500), vectors, {.memory_budget_bytes = 8192});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("id 1333 (row 333 of the load)"), std::string::npos)
      << result.status();
  ExpectUnchanged();
}

TEST_F(BulkLoadErrorTest, WrongDimensionNegativeIdAndSourceError) {
  const std::vector<float> short_rows(10 * kDim - 1);
  auto result = Load(*index_, Range(100, 10), short_rows);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  result = Load(*index_, {4, -2}, testing::GaussianVectors(2, kDim, 3));
  EXPECT_NE(result.status().message().find("id -2 at row 1"), std::string::npos) << result.status();

  // A source that fails after two segments were written.
  class Failing : public RowSource {
   public:
    Status Next(RowBatch* batch) override {
      if (++calls_ == 4) return absl::DataLossError("disk gone");
      batch->id_storage = Range(calls_ * 100, 100);
      batch->vector_storage = testing::GaussianVectors(100, kDim, calls_);
      batch->ids = batch->id_storage;
      batch->vectors = batch->vector_storage;
      return absl::OkStatus();
    }

   private:
    int calls_ = 0;
  } failing;
  result = index_->BulkLoad(failing, {.memory_budget_bytes = 8192});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
  ExpectUnchanged();
}

TEST(BulkLoadTest, ReadOnlyOpenIsRefused) {
  const std::string dir = testing::MakeTempDir("bulk_read_only") + "/c";
  ASSERT_TRUE(TurboQuantIndex::Create(dir, {.dim = kDim}).ok());
  OpenOptions read_only;
  read_only.read_only = true;
  auto reader = TurboQuantIndex::Open(dir, read_only);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto result = Load(**reader, Range(0, 10), testing::GaussianVectors(10, kDim, 1));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_EQ((*reader)->size(), 0);
}

TEST(BulkLoadTest, SegmentsAreCutAtMaxSegmentRowsAndAtTheMemoryBudget) {
  const std::string root = testing::MakeTempDir("bulk_cuts");
  const std::vector<float> data = testing::GaussianVectors(1000, kDim, 1);
  OpenOptions tuning;
  tuning.max_segment_rows = 300;
  auto index = TurboQuantIndex::Create(root + "/rows", {.dim = kDim}, tuning);
  ASSERT_TRUE(index.ok());
  std::vector<int64_t> progress;
  auto result = Load(**index, Range(0, 1000), data,
                     {.progress = [&](int64_t rows) { progress.push_back(rows); }});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->segments, 4);  // ceil(1000 / 300), evenly filled
  EXPECT_EQ(SegmentFiles(root + "/rows").size(), 4u);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 1000);

  // Segments share the rows evenly, also when a cut falls inside a batch.
  tuning.max_segment_rows = 640;
  auto even = TurboQuantIndex::Create(root + "/even", {.dim = kDim}, tuning);
  ASSERT_TRUE(even.ok());
  result = Load(**even, Range(0, 1000), data, {}, 300);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->segments, 2);

  // 24 floats at 4 bits = 12 code bytes, + norm, scalar and id = 28 bytes a
  // row: a budget of 2 x 64 rows cuts every 64 rows.
  auto small = TurboQuantIndex::Create(root + "/memory", {.dim = kDim});
  ASSERT_TRUE(small.ok());
  result = Load(**small, Range(0, 1000), data, {.memory_budget_bytes = 2 * 64 * 28});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->segments, 16);  // ceil(1000 / 64)
  EXPECT_EQ((*small)->size(), 1000);
  small->reset();

  auto reopened = TurboQuantIndex::Open(root + "/memory");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->size(), 1000);
  EXPECT_TRUE((*reopened)->Verify().ok());
  for (int64_t id : {0, 63, 64, 999}) EXPECT_TRUE((*reopened)->Contains(id)) << id;
}

TEST(BulkLoadTest, EmptyLoadChangesNothing) {
  auto index = TurboQuantIndex::Create({.dim = kDim});
  ASSERT_TRUE(index.ok());
  auto result = Load(**index, {}, {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rows, 0);
  EXPECT_EQ(result->segments, 0);
  EXPECT_EQ((*index)->size(), 0);
}

TEST(BulkLoadTest, LaterWritesSeeTheLoadedIds) {
  auto index = TurboQuantIndex::Create({.dim = kDim});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE(Load(**index, Range(10, 100), testing::GaussianVectors(100, kDim, 1)).ok());
  auto removed = (*index)->Remove({10, 50, 500});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2);
  auto first = (*index)->AddWithNewIds(testing::GaussianVectors(1, kDim, 2));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 110);
  EXPECT_EQ((*index)->size(), 99);
}

}  // namespace
}  // namespace turboquant
