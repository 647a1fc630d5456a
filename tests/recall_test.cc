// Recall on the real datasets of ../shared/data (skipped where absent).
//
// For each set the SIMD search must be within 0.01 of the exact float
// reference of the same estimator (brute force with Codec::EstimateInnerProduct
// over every code), so table rounding in the kernels costs no recall; and
// with exact re-ranking of 100 candidates recall@10 must reach 0.99.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "src/index/search_request.h"
#include "tests/test_util.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace turboquant {
namespace {

struct Dataset {
  const char* name;
  const char* base;
  const char* queries;
  const char* groundtruth;
  Metric metric;
};

const Dataset kDatasets[] = {
    {"siftsmall", "siftsmall/siftsmall_base.fvecs", "siftsmall/siftsmall_query.fvecs",
     "siftsmall/siftsmall_groundtruth.ivecs", Metric::kL2},
    {"bigann10k", "bigann10k/bigann10k_base.bvecs", "bigann10k/bigann10k_query.bvecs",
     "bigann10k/bigann10k_groundtruth.ivecs", Metric::kL2},
    {"cohere-768", "cohere-768/cohere1k_base.fvecs", "cohere-768/cohere1k_query.fvecs",
     "cohere-768/cohere1k_groundtruth_ip.ivecs", Metric::kInnerProduct},
    {"bge-m3-sentence", "bge-m3-1024/bge_m3_sentence_base.fvecs",
     "bge-m3-1024/bge_m3_sentence_query.fvecs",
     "bge-m3-1024/bge_m3_sentence_groundtruth_ip.ivecs", Metric::kInnerProduct},
    {"bge-m3-paragraph", "bge-m3-1024/bge_m3_paragraph_base.fvecs",
     "bge-m3-1024/bge_m3_paragraph_query.fvecs",
     "bge-m3-1024/bge_m3_paragraph_groundtruth_ip.ivecs", Metric::kInnerProduct},
};

struct Loaded {
  Matrix base, queries;
  IdMatrix groundtruth;
};

bool Load(const Dataset& set, Loaded* out) {
  const std::string base = testing::SharedDataPath(set.base);
  const std::string queries = testing::SharedDataPath(set.queries);
  const std::string gt = testing::SharedDataPath(set.groundtruth);
  if (base.empty() || queries.empty() || gt.empty()) return false;
  out->base = *ReadVectors(base);
  out->queries = *ReadVectors(queries);
  out->groundtruth = *ReadIdRows(gt);
  return true;
}

double RecallAt10(const std::vector<int64_t>& ids, int k, const IdMatrix& gt) {
  double hits = 0;
  const int64_t n = static_cast<int64_t>(ids.size()) / k;
  for (int64_t q = 0; q < n; ++q) {
    for (int i = 0; i < 10; ++i) {
      const int64_t* begin = &ids[q * k];
      hits += std::count(begin, begin + 10, gt.data[q * gt.dim + i]);
    }
  }
  return hits / (10.0 * n);
}

// Top-10 by the codec's float estimator over every code: the reference.
std::vector<int64_t> FloatReferenceTop10(const Codec& codec, const Loaded& data, Metric metric) {
  std::vector<float> base = data.base.data, queries = data.queries.data;
  if (metric == Metric::kCosine) {
    internal::NormalizeRows(codec.dim(), &base);
    internal::NormalizeRows(codec.dim(), &queries);
  }
  std::vector<uint8_t> codes(data.base.rows * codec.code_size());
  EXPECT_TRUE(codec.Encode(base, absl::MakeSpan(codes)).ok());
  std::vector<int64_t> out;
  std::vector<float> scores(data.base.rows);
  for (int64_t q = 0; q < data.queries.rows; ++q) {
    absl::Span<const float> query(&queries[q * codec.dim()], codec.dim());
    EXPECT_TRUE(codec.EstimateInnerProducts(query, codes, absl::MakeSpan(scores)).ok());
    std::vector<std::pair<float, int64_t>> ranked(data.base.rows);
    for (int64_t i = 0; i < data.base.rows; ++i) {
      const float norm = codec.StoredNorm(&codes[i * codec.code_size()]);
      const float score = metric == Metric::kL2 ? 2 * scores[i] - norm * norm : scores[i];
      ranked[i] = {-score, i};
    }
    std::partial_sort(ranked.begin(), ranked.begin() + 10, ranked.end());
    for (int i = 0; i < 10; ++i) out.push_back(ranked[i].second);
  }
  return out;
}

std::vector<int64_t> IndexTop10(const Loaded& data, IndexOptions options, int rerank) {
  options.dim = data.base.dim;
  auto index = TurboQuantIndex::Create(options);
  EXPECT_TRUE(index.ok());
  std::vector<int64_t> ids(data.base.rows);
  for (int64_t i = 0; i < data.base.rows; ++i) ids[i] = i;
  EXPECT_TRUE((*index)->Add(ids, data.base.data).ok());
  SearchParams params;
  params.k = 10;
  params.rerank = rerank;
  params.rescore = std::max(100, rerank);
  auto results = (*index)->Search(data.queries.data, params);
  EXPECT_TRUE(results.ok()) << results.status();
  return results->ids;
}

void PrintTo(const Dataset& set, std::ostream* os) { *os << set.name; }

class RecallTest : public ::testing::TestWithParam<Dataset> {};

TEST_P(RecallTest, SimdSearchMatchesTheFloatEstimatorAndRerankReaches099) {
  const Dataset& set = GetParam();
  Loaded data;
  if (!Load(set, &data)) GTEST_SKIP() << "dataset " << set.name << " not found under ../shared/data";
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    for (int bits : {2, 3, 4}) {
      const IndexOptions options{.dim = data.base.dim, .bits = bits, .codec = kind,
                                 .metric = set.metric, .keep_vectors = true};
      auto codec = Codec::Create(kind, {.dim = data.base.dim, .bits = bits, .seed = options.seed});
      const double reference = RecallAt10(FloatReferenceTop10(**codec, data, set.metric), 10,
                                          data.groundtruth);
      const double simd = RecallAt10(IndexTop10(data, options, 0), 10, data.groundtruth);
      EXPECT_GE(simd, reference - 0.01) << set.name << " " << CodecKindName(kind) << bits;
      if (bits == 4) {
        const double reranked = RecallAt10(IndexTop10(data, options, 100), 10, data.groundtruth);
        EXPECT_GE(reranked, 0.99) << set.name << " " << CodecKindName(kind) << bits;
      }
      std::printf("%-17s %-4s %db  recall@10 reference %.3f  simd %.3f\n", set.name,
                  CodecKindName(kind), bits, reference, simd);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SharedData, RecallTest, ::testing::ValuesIn(kDatasets),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace turboquant
