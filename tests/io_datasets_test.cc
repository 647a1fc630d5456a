// Reading the real datasets: the shapes ../shared/data/README.md documents,
// values in their documented ranges, and ground truth that agrees with a
// brute-force search over the vectors read (which catches any misread row).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"
#include "turboquant/io.h"

namespace turboquant {
namespace {

using ::turboquant::testing::SharedDataPath;

constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

Matrix MustReadVectors(const std::string& path) {
  StatusOr<Matrix> read = ReadVectors(path);
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? *std::move(read) : Matrix();
}

IdMatrix MustReadIds(const std::string& path) {
  StatusOr<IdMatrix> read = ReadIdRows(path);
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? *std::move(read) : IdMatrix();
}

double SquaredDistance(absl::Span<const float> a, absl::Span<const float> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return sum;
}

double Dot(absl::Span<const float> a, absl::Span<const float> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
  return sum;
}

// The ground truth's first id of each query must score best over all of
// base (ties allowed): higher `score` is better.
template <typename Score>
void ExpectTop1IsBest(const Matrix& base, const Matrix& queries, const IdMatrix& truth,
                      Score score) {
  for (int64_t q = 0; q < queries.rows; ++q) {
    double best = -INFINITY;
    for (int64_t i = 0; i < base.rows; ++i)
      best = std::max(best, score(queries.row(q), base.row(i)));
    const int64_t top1 = truth.row(q)[0];
    ASSERT_GE(top1, 0);
    ASSERT_LT(top1, base.rows);
    EXPECT_NEAR(score(queries.row(q), base.row(top1)), best, 1e-9 * std::abs(best))
        << "query " << q;
  }
}

void ExpectIdsBelow(const IdMatrix& ids, int64_t limit) {
  const auto [min, max] = std::minmax_element(ids.data.begin(), ids.data.end());
  EXPECT_GE(*min, 0);
  EXPECT_LT(*max, limit);
}

TEST(SharedDatasetsTest, Siftsmall) {
  if (SharedDataPath("siftsmall").empty()) {
    GTEST_SKIP() << "shared datasets not found at " << TQ_SHARED_DATA_DIR << "/siftsmall";
  }
  const Matrix base = MustReadVectors(SharedDataPath("siftsmall/siftsmall_base.fvecs"));
  const Matrix queries = MustReadVectors(SharedDataPath("siftsmall/siftsmall_query.fvecs"));
  const IdMatrix truth = MustReadIds(SharedDataPath("siftsmall/siftsmall_groundtruth.ivecs"));
  EXPECT_EQ(base.rows, 10000);
  EXPECT_EQ(base.dim, 128);
  EXPECT_EQ(queries.rows, 100);
  EXPECT_EQ(queries.dim, 128);
  EXPECT_EQ(truth.rows, 100);
  EXPECT_EQ(truth.dim, 100);
  // Documented as float32 holding the integers 0..255.
  for (const float v : base.data) ASSERT_TRUE(v >= 0 && v <= 255 && v == std::trunc(v)) << v;
  ExpectIdsBelow(truth, base.rows);
  ExpectTop1IsBest(base, queries, truth, [](auto q, auto x) { return -SquaredDistance(q, x); });
}

TEST(SharedDatasetsTest, SiftsmallStreamedInChunksMatchesWholeFile) {
  const std::string path = SharedDataPath("siftsmall/siftsmall_base.fvecs");
  if (path.empty()) GTEST_SKIP() << "shared datasets not found at " << TQ_SHARED_DATA_DIR;
  StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> streamed;
  for (StatusOr<int64_t> got = 1; *got > 0;) {
    got = (*reader)->ReadRows(333, &streamed);
    ASSERT_TRUE(got.ok()) << got.status();
  }
  EXPECT_EQ(streamed, MustReadVectors(path).data);
}

TEST(SharedDatasetsTest, Bigann10k) {
  if (SharedDataPath("bigann10k").empty()) {
    GTEST_SKIP() << "shared datasets not found at " << TQ_SHARED_DATA_DIR << "/bigann10k";
  }
  const std::string base_path = SharedDataPath("bigann10k/bigann10k_base.bvecs");
  StatusOr<std::unique_ptr<VectorReader>> reader = VectorReader::Open(base_path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->element_type(), ElementType::kUint8);

  const Matrix base = MustReadVectors(base_path);
  const Matrix queries = MustReadVectors(SharedDataPath("bigann10k/bigann10k_query.bvecs"));
  const IdMatrix truth = MustReadIds(SharedDataPath("bigann10k/bigann10k_groundtruth.ivecs"));
  EXPECT_EQ(base.rows, 10000);
  EXPECT_EQ(base.dim, 128);
  EXPECT_EQ(queries.rows, 100);
  EXPECT_EQ(queries.dim, 128);
  EXPECT_EQ(truth.rows, 100);
  EXPECT_EQ(truth.dim, 100);
  ExpectIdsBelow(truth, base.rows);
  // Documented: the queries are the first 100 base vectors.
  for (int64_t q = 0; q < queries.rows; ++q) {
    EXPECT_TRUE(std::equal(queries.row(q).begin(), queries.row(q).end(), base.row(q).begin()))
        << "query " << q;
    EXPECT_EQ(SquaredDistance(queries.row(q), base.row(truth.row(q)[0])), 0.0) << "query " << q;
  }
  ExpectTop1IsBest(base, queries, truth, [](auto q, auto x) { return -SquaredDistance(q, x); });
}

TEST(SharedDatasetsTest, Cohere768) {
  if (SharedDataPath("cohere-768").empty()) {
    GTEST_SKIP() << "shared datasets not found at " << TQ_SHARED_DATA_DIR << "/cohere-768";
  }
  const Matrix base = MustReadVectors(SharedDataPath("cohere-768/cohere1k_base.fvecs"));
  const Matrix queries = MustReadVectors(SharedDataPath("cohere-768/cohere1k_query.fvecs"));
  EXPECT_EQ(base.rows, 900);
  EXPECT_EQ(base.dim, 768);
  EXPECT_EQ(queries.rows, 100);
  EXPECT_EQ(queries.dim, 768);
  // Documented as not normalised, norms 12.3 to 15.3.
  for (int64_t i = 0; i < base.rows; ++i) {
    const double norm = std::sqrt(Dot(base.row(i), base.row(i)));
    ASSERT_GT(norm, 12.2) << "row " << i;
    ASSERT_LT(norm, 15.4) << "row " << i;
  }
  for (const std::string metric : {"ip", "cosine", "l2"}) {
    const IdMatrix truth =
        MustReadIds(SharedDataPath("cohere-768/cohere1k_groundtruth_" + metric + ".ivecs"));
    EXPECT_EQ(truth.rows, 100) << metric;
    EXPECT_EQ(truth.dim, 100) << metric;
    ExpectIdsBelow(truth, base.rows);
  }
  const IdMatrix ip_truth = MustReadIds(SharedDataPath("cohere-768/cohere1k_groundtruth_ip.ivecs"));
  ExpectTop1IsBest(base, queries, ip_truth, [](auto q, auto x) { return Dot(q, x); });
}

TEST(SharedDatasetsTest, BgeM3) {
  if (SharedDataPath("bge-m3-1024").empty()) {
    GTEST_SKIP() << "shared datasets not found at " << TQ_SHARED_DATA_DIR << "/bge-m3-1024";
  }
  for (const std::string set : {"sentence", "paragraph"}) {
    const std::string prefix = "bge-m3-1024/bge_m3_" + set;
    const Matrix base = MustReadVectors(SharedDataPath(prefix + "_base.fvecs"));
    const Matrix queries = MustReadVectors(SharedDataPath(prefix + "_query.fvecs"));
    const IdMatrix truth = MustReadIds(SharedDataPath(prefix + "_groundtruth_ip.ivecs"));
    EXPECT_EQ(base.rows, 450) << set;
    EXPECT_EQ(base.dim, 1024) << set;
    EXPECT_EQ(queries.rows, 50) << set;
    EXPECT_EQ(truth.rows, 50) << set;
    EXPECT_EQ(truth.dim, 100) << set;
    for (int64_t i = 0; i < base.rows; ++i) {
      ASSERT_NEAR(Dot(base.row(i), base.row(i)), 1.0, 1e-3) << set << " row " << i;
    }
    ExpectIdsBelow(truth, base.rows);
    ExpectTop1IsBest(base, queries, truth, [](auto q, auto x) { return Dot(q, x); });
  }
}

TEST(FashionMnistTest, GzipIdxImagesAndLabels) {
  const std::string dir = kFashionMnistDir;
  StatusOr<std::unique_ptr<VectorReader>> train =
      VectorReader::Open(dir + "/train-images-idx3-ubyte.gz");
  if (!train.ok() && absl::IsNotFound(train.status())) {
    GTEST_SKIP() << dir << " not found; install the Debian package dataset-fashion-mnist";
  }
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ((*train)->rows(), 60000);
  EXPECT_EQ((*train)->dim(), 784);
  EXPECT_EQ((*train)->element_type(), ElementType::kUint8);

  const Matrix images = MustReadVectors(dir + "/train-images-idx3-ubyte.gz");
  EXPECT_EQ(images.rows, 60000);
  EXPECT_EQ(images.dim, 784);
  EXPECT_EQ(*std::max_element(images.data.begin(), images.data.end()), 255.0f);
  EXPECT_EQ(*std::min_element(images.data.begin(), images.data.end()), 0.0f);

  const IdMatrix labels = MustReadIds(dir + "/train-labels-idx1-ubyte.gz");
  EXPECT_EQ(labels.rows, 60000);
  EXPECT_EQ(labels.dim, 1);
  // Fashion-MNIST's training set has 6000 images of each of its 10 classes.
  for (int64_t label = 0; label < 10; ++label) {
    EXPECT_EQ(std::count(labels.data.begin(), labels.data.end(), label), 6000) << label;
  }

  const Matrix test_images = MustReadVectors(dir + "/t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(test_images.rows, 10000);
  EXPECT_EQ(test_images.dim, 784);
}

}  // namespace
}  // namespace turboquant
