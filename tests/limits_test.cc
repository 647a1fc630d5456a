// Every public entry point driven with absurd sizes (issue 10, "bounded
// inputs"): each must answer with a Status whose code and message name the
// problem, never throw, never crash, and never allocate or read what an
// absurd size declares. Sizes are declared through spans over small buffers,
// so a call that read or allocated before checking would fault or run out of
// memory here instead of failing quietly.
#include <unistd.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/io_test_files.h"
#include "tests/test_util.h"
#include "turboquant/codec.h"
#include "turboquant/index.h"
#include "turboquant/io.h"
#include "turboquant/kv_cache.h"

namespace turboquant {
namespace {

namespace fs = std::filesystem;
using absl::StatusCode;
using testing::BigEndian32;
using testing::Int32Bytes;
using testing::WriteFileBytes;

constexpr int kDim = 8;
constexpr int kRows = 20;

absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& result) {
  return result.status();
}

// Runs `call` and checks that it failed with `code` and a message holding
// every one of `words`. An exception escaping the call is a failure too.
template <typename Call>
::testing::AssertionResult Rejects(Call call, StatusCode code, std::vector<std::string> words) {
  absl::Status status;
  try {
    status = StatusOf(call());
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "threw something that is not a std::exception";
  }
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "got " << status << ", expected code " << absl::StatusCodeToString(code);
  }
  for (const std::string& word : words) {
    if (status.message().find(word) == absl::string_view::npos) {
      return ::testing::AssertionFailure()
             << "the message of " << status << " lacks '" << word << "'";
    }
  }
  return ::testing::AssertionSuccess() << status;
}

// A span that claims `size` elements but points at `buffer`: a call that
// checks sizes first never touches the memory beyond it.
template <typename T>
absl::Span<const T> Declared(const std::vector<T>& buffer, size_t size) {
  return absl::Span<const T>(buffer.data(), size);
}
template <typename T>
absl::Span<T> DeclaredOutput(std::vector<T>& buffer, size_t size) {
  return absl::Span<T>(buffer.data(), size);
}

std::vector<int64_t> Iota(int n) {
  std::vector<int64_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = i;
  return ids;
}

// A small in-memory index with kept vectors, so that rerank is allowed.
std::unique_ptr<TurboQuantIndex> SmallIndex() {
  auto index = TurboQuantIndex::Create(
      IndexOptions{.dim = kDim, .bits = 4, .metric = Metric::kL2, .keep_vectors = true});
  EXPECT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE((*index)->Add(Iota(kRows), testing::GaussianVectors(kRows, kDim, 1)).ok());
  return std::move(*index);
}

SearchParams WithK(int k) {
  SearchParams params;
  params.k = k;
  return params;
}

// --- TurboQuantIndex: Search ----------------------------------------------

TEST(LimitsTest, SearchRejectsKOutsideOneToMaxSearchK) {
  auto index = SmallIndex();
  const std::vector<float> query(kDim, 0.5f);
  for (int k : {INT_MIN, -1, 0, kMaxSearchK + 1, INT_MAX}) {
    SearchParams params = WithK(k);
    params.filter = Filter::Exclude({});  // no k <= count check to hide behind
    EXPECT_TRUE(Rejects([&] { return index->Search(query, params); }, StatusCode::kInvalidArgument,
                        {"k must be positive and at most 65536", "got " + std::to_string(k)}));
  }
}

TEST(LimitsTest, SearchRejectsUnfilteredKLargerThanTheIndex) {
  auto index = SmallIndex();
  const std::vector<float> query(kDim, 0.5f);
  EXPECT_TRUE(Rejects([&] { return index->Search(query, WithK(kRows + 1)); },
                      StatusCode::kInvalidArgument, {"k = 21 exceeds the 20 vectors"}));
}

TEST(LimitsTest, SearchRejectsRescoreRerankAndThreadsBeyondTheirLimits) {
  auto index = SmallIndex();
  const std::vector<float> query(kDim, 0.5f);
  struct Case {
    int rescore, rerank, threads;
    std::string named;
  };
  const std::vector<Case> cases = {
      {INT_MAX, 0, 1, "rescore and rerank must be at most 1048576"},
      {kMaxCandidates + 1, 0, 1, "rescore and rerank must be at most 1048576"},
      {0, INT_MAX, 1, "rescore and rerank must be at most 1048576"},
      {0, 0, INT_MAX, "threads at most 1024"},
      {0, 0, 100000, "threads at most 1024"},
      {0, 0, kMaxSearchThreads + 1, "threads at most 1024"},
      {-1, 0, 1, "must not be negative"},
      {0, INT_MIN, 1, "must not be negative"},
      {0, 0, -1, "must not be negative"},
  };
  for (const Case& c : cases) {
    SearchParams params = WithK(5);
    params.rescore = c.rescore;
    params.rerank = c.rerank;
    params.threads = c.threads;
    EXPECT_TRUE(Rejects([&] { return index->Search(query, params); }, StatusCode::kInvalidArgument,
                        {c.named}))
        << c.rescore << " " << c.rerank << " " << c.threads;
  }
}

TEST(LimitsTest, SearchAcceptsEveryLimitItself) {
  auto index = SmallIndex();
  const std::vector<float> query(kDim, 0.5f);
  SearchParams params = WithK(kMaxSearchK);
  params.rescore = kMaxCandidates;
  params.rerank = kMaxCandidates;
  params.threads = kMaxSearchThreads;
  params.filter = Filter::Exclude({});
  StatusOr<SearchResults> results;
  EXPECT_NO_THROW(results = index->Search(query, params));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->ids.size(), static_cast<size_t>(kMaxSearchK));
  EXPECT_GE(results->ids[kRows - 1], 0);
  EXPECT_EQ(results->ids[kRows], -1);  // past the 20 vectors: padding
}

TEST(LimitsTest, SearchRejectsQueryBatchesBeyondTheResultSlotsBeforeReadingThem) {
  auto index = SmallIndex();
  const std::vector<float> buffer(kDim, 0.5f);
  // One query too many for kMaxResultSlots at k = 1 and at the largest k.
  for (int k : {1, kMaxSearchK}) {
    const size_t queries = static_cast<size_t>(kMaxResultSlots / k) + 1;
    SearchParams params = WithK(k);
    params.filter = Filter::Exclude({});
    EXPECT_TRUE(Rejects([&] { return index->Search(Declared(buffer, queries * kDim), params); },
                        StatusCode::kInvalidArgument, {"result slots", "split the batch"}))
        << "k " << k;
  }
}

TEST(LimitsTest, SearchRejectsQueriesThatAreNotWholeRows) {
  auto index = SmallIndex();
  const std::vector<float> buffer(kDim, 0.5f);
  for (size_t size : {size_t{0}, size_t{kDim - 1}, (size_t{1} << 62) + 1, SIZE_MAX}) {
    EXPECT_TRUE(Rejects([&] { return index->Search(Declared(buffer, size), WithK(1)); },
                        StatusCode::kInvalidArgument,
                        {"not a positive multiple of the index dimension 8"}))
        << size;
  }
}

TEST(LimitsTest, SearchRejectsRerankWithoutKeptVectors) {
  auto index = TurboQuantIndex::Create(IndexOptions{.dim = kDim, .bits = 4});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->Add(Iota(kRows), testing::GaussianVectors(kRows, kDim, 1)).ok());
  SearchParams params = WithK(1);
  params.rerank = kMaxCandidates;
  EXPECT_TRUE(Rejects([&] { return (*index)->Search(std::vector<float>(kDim, 1.0f), params); },
                      StatusCode::kFailedPrecondition, {"keep_vectors"}));
}

// --- TurboQuantIndex: writes and Get --------------------------------------

TEST(LimitsTest, AddRejectsBatchesBeyondMaxBatchRowsBeforeReadingThem) {
  auto index = SmallIndex();
  const std::vector<int64_t> ids = {1, 2, 3};
  const std::vector<float> vectors(3 * kDim, 0.5f);
  const size_t rows = static_cast<size_t>(kMaxBatchRows) + 1;
  EXPECT_TRUE(Rejects(
      [&] { return index->Add(Declared(ids, rows), Declared(vectors, rows * kDim)); },
      StatusCode::kInvalidArgument, {"a batch of 16777217 ids exceeds the limit of 16777216"}));
  // 2^61 ids x 8 floats wraps around to 0 in size_t: the row count alone
  // must still stop the call.
  EXPECT_TRUE(Rejects([&] { return index->Add(Declared(ids, size_t{1} << 61), {}); },
                      StatusCode::kInvalidArgument, {"exceeds the limit of 16777216"}));
  EXPECT_EQ(index->size(), kRows);
}

TEST(LimitsTest, AddRejectsVectorCountsThatDisagreeWithTheIds) {
  auto index = SmallIndex();
  const std::vector<int64_t> ids = {100, 101, 102};
  const std::vector<float> vectors(3 * kDim, 0.5f);
  for (size_t floats : {size_t{0}, size_t{3 * kDim - 1}, size_t{3 * kDim + 1}, SIZE_MAX}) {
    EXPECT_TRUE(Rejects([&] { return index->Add(ids, Declared(vectors, floats)); },
                        StatusCode::kInvalidArgument, {"Add got 3 ids but", "expected 24"}))
        << floats;
  }
  EXPECT_FALSE(index->Contains(100));
}

TEST(LimitsTest, AddWithNewIdsRejectsPartialRowsAndHugeBatchesBeforeReadingThem) {
  auto index = SmallIndex();
  const std::vector<float> vectors(kDim, 0.5f);
  for (size_t floats :
       {size_t{kDim + 1}, (static_cast<size_t>(kMaxBatchRows) + 1) * kDim, SIZE_MAX}) {
    EXPECT_TRUE(Rejects([&] { return index->AddWithNewIds(Declared(vectors, floats)); },
                        StatusCode::kInvalidArgument,
                        {"not a whole number of 8-dimensional rows, or more than 16777216 rows"}))
        << floats;
  }
  EXPECT_EQ(index->size(), kRows);
}

TEST(LimitsTest, RemoveRejectsBatchesBeyondMaxBatchRowsBeforeReadingThem) {
  auto index = SmallIndex();
  const std::vector<int64_t> ids = {1, 2};
  for (size_t count : {static_cast<size_t>(kMaxBatchRows) + 1, size_t{1} << 60}) {
    EXPECT_TRUE(Rejects([&] { return index->Remove(Declared(ids, count)); },
                        StatusCode::kInvalidArgument, {"exceeds the limit of 16777216 per call"}));
  }
  EXPECT_EQ(index->size(), kRows);
}

TEST(LimitsTest, GetAnswersNotFoundForExtremeIds) {
  auto index = SmallIndex();
  for (int64_t id : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{kRows},
                     std::numeric_limits<int64_t>::max()}) {
    EXPECT_TRUE(Rejects([&] { return index->Get(id); }, StatusCode::kNotFound,
                        {"id " + std::to_string(id) + " is not in the index"}));
    EXPECT_FALSE(index->Contains(id));
  }
}

// --- TurboQuantIndex: Create, Open, Backup --------------------------------

TEST(LimitsTest, CreateRejectsDimensionsAndBitsOutOfRange) {
  const std::string root = testing::MakeTempDir("limits");
  for (int dim : {INT_MIN, -1, 0, 1, Codec::kMaxDim + 1, INT_MAX}) {
    const IndexOptions options{.dim = dim, .bits = 4};
    const std::string named = "dim " + std::to_string(dim) + " is out of range: must be 2..16384";
    EXPECT_TRUE(Rejects([&] { return TurboQuantIndex::Create(options); },
                        StatusCode::kInvalidArgument, {named}));
    EXPECT_TRUE(Rejects([&] { return TurboQuantIndex::Create(root + "/c", options); },
                        StatusCode::kInvalidArgument, {named}));
  }
  for (int bits : {INT_MIN, -1, 0, 9, INT_MAX}) {
    const IndexOptions options{.dim = kDim, .bits = bits};
    EXPECT_TRUE(Rejects(
        [&] { return TurboQuantIndex::Create(root + "/c", options); }, StatusCode::kInvalidArgument,
        {"bits " + std::to_string(bits) + " is out of range for mse: must be 1..8"}));
  }
  EXPECT_FALSE(fs::exists(root + "/c")) << "a rejected Create left a directory behind";
}

TEST(LimitsTest, CreateRejectsAReadOnlyOpen) {
  const std::string root = testing::MakeTempDir("limits");
  EXPECT_TRUE(Rejects(
      [&] {
        return TurboQuantIndex::Create(root + "/c", IndexOptions{.dim = kDim}, {.read_only = true});
      },
      StatusCode::kInvalidArgument, {"Create cannot be read-only"}));
  EXPECT_FALSE(fs::exists(root + "/c")) << "a rejected Create left a directory behind";
}

TEST(LimitsTest, CreateAndOpenRejectSegmentSizesOutOfRange) {
  const std::string root = testing::MakeTempDir("limits");
  const IndexOptions options{.dim = kDim, .bits = 4};
  const std::vector<OpenOptions> bad = {
      {.seal_rows = 0},
      {.seal_rows = -1},
      {.seal_rows = std::numeric_limits<int64_t>::min()},
      {.max_segment_rows = 0},
      {.max_segment_rows = -1},
      {.max_segment_rows = kMaxSegmentRows + 1},
      {.max_segment_rows = std::numeric_limits<int64_t>::max()},
  };
  for (const OpenOptions& open : bad) {
    EXPECT_TRUE(
        Rejects([&] { return TurboQuantIndex::Create(root + "/c", options, open); },
                StatusCode::kInvalidArgument,
                {"seal_rows must be positive and max_segment_rows between 1 and 4294967295"}));
  }
  EXPECT_FALSE(fs::exists(root + "/c")) << "a rejected Create left a directory behind";

  // The limits themselves are accepted, and a bad Open leaves the
  // collection as it was.
  auto created = TurboQuantIndex::Create(
      root + "/c", options,
      {.seal_rows = std::numeric_limits<int64_t>::max(), .max_segment_rows = kMaxSegmentRows});
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE((*created)->Add({7}, std::vector<float>(kDim, 1.0f)).ok());
  created->reset();
  for (const OpenOptions& open : bad) {
    EXPECT_TRUE(Rejects([&] { return TurboQuantIndex::Open(root + "/c", open); },
                        StatusCode::kInvalidArgument, {"seal_rows", "max_segment_rows"}));
  }
  auto reopened = TurboQuantIndex::Open(root + "/c");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE((*reopened)->Contains(7));
}

TEST(LimitsTest, CreateOpenAndBackupRejectPathsLongerThanTheSystemAllows) {
  const std::string root = testing::MakeTempDir("limits");
  const std::string too_long = root + "/" + std::string(NAME_MAX + 1, 'x');
  const IndexOptions options{.dim = kDim, .bits = 4};
  EXPECT_TRUE(Rejects([&] { return TurboQuantIndex::Open(too_long); }, StatusCode::kNotFound,
                      {"no such directory"}));
  absl::Status created;
  EXPECT_NO_THROW(created = TurboQuantIndex::Create(too_long, options).status());
  EXPECT_FALSE(created.ok());
  EXPECT_THAT(std::string(created.message()), ::testing::HasSubstr("too long"));

  auto index = TurboQuantIndex::Create(root + "/c", options);
  ASSERT_TRUE(index.ok()) << index.status();
  absl::Status backup;
  EXPECT_NO_THROW(backup = (*index)->Backup(too_long));
  EXPECT_FALSE(backup.ok());
  EXPECT_THAT(std::string(backup.message()), ::testing::HasSubstr("too long"));
}

TEST(LimitsTest, BackupOfAnInMemoryIndexIsRefused) {
  auto index = SmallIndex();
  const std::string root = testing::MakeTempDir("limits");
  EXPECT_TRUE(Rejects([&] { return index->Backup(root + "/b"); }, StatusCode::kFailedPrecondition,
                      {"in-memory index"}));
}

// --- Codec ------------------------------------------------------------------

TEST(LimitsTest, CodecCreateRejectsDimensionsAndBitsOutOfRange) {
  for (CodecKind kind : {CodecKind::kMse, CodecKind::kProd}) {
    for (int dim : {INT_MIN, -1, 0, 1, Codec::kMaxDim + 1, INT_MAX}) {
      CodecOptions options;
      options.dim = dim;
      EXPECT_TRUE(Rejects([&] { return Codec::Create(kind, options); },
                          StatusCode::kInvalidArgument,
                          {"dim " + std::to_string(dim) + " is out of range"}));
    }
    const int min_bits = kind == CodecKind::kMse ? 1 : 2;
    for (int bits : {INT_MIN, -1, 0, min_bits - 1, 9, INT_MAX}) {
      CodecOptions options;
      options.dim = kDim;
      options.bits = bits;
      EXPECT_TRUE(Rejects(
          [&] { return Codec::Create(kind, options); }, StatusCode::kInvalidArgument,
          {"bits " + std::to_string(bits) + " is out of range for " + CodecKindName(kind)}));
    }
  }
  EXPECT_TRUE(Rejects([] { return MseCodec::Create(INT_MAX, 4); }, StatusCode::kInvalidArgument,
                      {"dim 2147483647 is out of range"}));
  EXPECT_TRUE(Rejects([] { return ProdCodec::Create(kDim, INT_MAX); }, StatusCode::kInvalidArgument,
                      {"bits 2147483647 is out of range"}));
  CodecOptions dense;
  dense.dim = Codec::kMaxDenseDim + 1;
  dense.rotation = RotationKind::kDenseOrthogonal;
  EXPECT_TRUE(Rejects([&] { return Codec::Create(CodecKind::kMse, dense); },
                      StatusCode::kInvalidArgument, {"4097"}));
}

TEST(LimitsTest, CodecCreateRejectsUnknownKinds) {
  CodecOptions options;
  options.dim = kDim;
  EXPECT_TRUE(Rejects([&] { return Codec::Create(static_cast<CodecKind>(7), options); },
                      StatusCode::kInvalidArgument, {"unknown codec kind 7"}));
  options.rotation = static_cast<RotationKind>(9);
  EXPECT_TRUE(Rejects([&] { return Codec::Create(CodecKind::kMse, options); },
                      StatusCode::kInvalidArgument, {"unknown rotation kind"}));
}

// Sizes whose product with the row width wraps around in size_t must not
// pass as small ones.
TEST(LimitsTest, CodecBatchCallsRejectMismatchedSizesBeforeTouchingMemory) {
  auto codec = Codec::Create(CodecKind::kMse, {.dim = kDim, .bits = 4});
  ASSERT_TRUE(codec.ok());
  const size_t code_size = (*codec)->code_size();  // 4 + 8 = 12 bytes
  ASSERT_EQ(code_size, 12u);
  std::vector<float> floats(kDim, 0.5f);
  std::vector<uint8_t> bytes(code_size, 0);
  std::vector<float> scores(1);
  // (2^64 + 8) / 12 rows: 12 bytes each wraps around to 8 bytes of codes.
  const size_t wrapping_rows = SIZE_MAX / 12 + 1;
  ASSERT_EQ(wrapping_rows * 12, size_t{8});
  EXPECT_TRUE(Rejects(
      [&] {
        return (*codec)->Encode(Declared(floats, wrapping_rows * kDim), DeclaredOutput(bytes, 8));
      },
      StatusCode::kInvalidArgument, {"Encode: output holds 8 values"}));
  EXPECT_TRUE(Rejects(
      [&] { return (*codec)->Encode(Declared(floats, kDim + 1), absl::MakeSpan(bytes)); },
      StatusCode::kInvalidArgument, {"Encode: 9 values is not a whole number of rows of 8"}));
  EXPECT_TRUE(Rejects([&] { return (*codec)->Encode(floats, DeclaredOutput(bytes, SIZE_MAX)); },
                      StatusCode::kInvalidArgument, {"Encode: output holds"}));

  // Decode: 2^63 / 12 rows of 8 floats need 2^65 / 3 floats, which wraps.
  auto wide = Codec::Create(CodecKind::kMse, {.dim = Codec::kMaxDim, .bits = 1});
  ASSERT_TRUE(wide.ok());
  const size_t wide_code = (*wide)->code_size();  // 2048 + 8 bytes per 16384 floats
  const size_t wide_rows = SIZE_MAX / wide_code;
  std::vector<float> wide_out(Codec::kMaxDim);
  const size_t wrapped_floats = wide_rows * Codec::kMaxDim;  // mod 2^64
  EXPECT_TRUE(Rejects(
      [&] {
        return (*wide)->Decode(Declared(bytes, wide_rows * wide_code),
                               DeclaredOutput(wide_out, wrapped_floats));
      },
      StatusCode::kInvalidArgument, {"Decode: output holds"}));
  EXPECT_TRUE(Rejects(
      [&] { return (*codec)->Decode(Declared(bytes, code_size + 1), absl::MakeSpan(floats)); },
      StatusCode::kInvalidArgument, {"Decode: 13 values is not a whole number of rows of 12"}));

  EXPECT_TRUE(Rejects(
      [&] {
        return (*codec)->EstimateInnerProducts(Declared(floats, SIZE_MAX), bytes,
                                               absl::MakeSpan(scores));
      },
      StatusCode::kInvalidArgument, {"query has dimension", "the codec expects 8"}));
  EXPECT_TRUE(Rejects(
      [&] {
        return (*codec)->EstimateInnerProducts(floats, Declared(bytes, SIZE_MAX),
                                               absl::MakeSpan(scores));
      },
      StatusCode::kInvalidArgument, {"EstimateInnerProducts", "not a whole number of rows of 12"}));
  EXPECT_TRUE(Rejects(
      [&] {
        return (*codec)->EstimateInnerProducts(floats, bytes, DeclaredOutput(scores, SIZE_MAX));
      },
      StatusCode::kInvalidArgument, {"EstimateInnerProducts: output holds"}));
}

// --- KV cache ---------------------------------------------------------------

KvCacheConfig SmallKvConfig() {
  KvCacheConfig config;
  config.head_dim = 64;
  config.num_kv_heads = 2;
  config.num_query_heads = 4;
  config.residual_window = 4;
  return config;
}

// The config is rejected the same way by Validate, KvCache::Create and
// ExactAttention, before anything is sized from it.
::testing::AssertionResult ConfigRejected(const KvCacheConfig& config, const std::string& named) {
  const std::vector<float> one(64, 0.5f);
  std::vector<float> out(64);
  for (auto result : {
           Rejects([&] { return config.Validate(); }, StatusCode::kInvalidArgument, {named}),
           Rejects([&] { return KvCache::Create(config); }, StatusCode::kInvalidArgument, {named}),
           Rejects([&] { return ExactAttention(config, one, one, one, absl::MakeSpan(out)); },
                   StatusCode::kInvalidArgument, {named}),
       }) {
    if (!result) return result;
  }
  return ::testing::AssertionSuccess();
}

TEST(LimitsTest, KvCacheConfigRejectsAbsurdShapes) {
  for (int head_dim : {INT_MIN, -64, 0, 63, 65, 576, INT_MAX}) {
    KvCacheConfig config = SmallKvConfig();
    config.head_dim = head_dim;
    EXPECT_TRUE(ConfigRejected(config, "head_dim " + std::to_string(head_dim)));
  }
  for (int heads : {INT_MIN, -1, 0}) {
    KvCacheConfig config = SmallKvConfig();
    config.num_kv_heads = heads;
    EXPECT_TRUE(ConfigRejected(config, "must be at least 1"));
    config = SmallKvConfig();
    config.num_query_heads = heads;
    EXPECT_TRUE(ConfigRejected(config, "must be at least 1"));
  }
  {
    KvCacheConfig config = SmallKvConfig();
    config.num_query_heads = 5;
    EXPECT_TRUE(ConfigRejected(config, "num_query_heads 5 is not a multiple of num_kv_heads 2"));
  }
  // Head counts that pass every other check but would size per-head state
  // for billions of heads.
  for (auto [kv_heads, query_heads] :
       {std::pair{INT_MAX, INT_MAX}, std::pair{1, INT_MAX},
        std::pair{KvCacheConfig::kMaxHeads + 1, KvCacheConfig::kMaxHeads + 1}}) {
    KvCacheConfig config = SmallKvConfig();
    config.num_kv_heads = kv_heads;
    config.num_query_heads = query_heads;
    EXPECT_TRUE(ConfigRejected(config, "at most 1024")) << kv_heads << " " << query_heads;
  }
  for (double bits : {std::nan(""), HUGE_VAL, -HUGE_VAL, 0.0, 1.5, 2.25, 4.5, 1e300, -1e300}) {
    KvCacheConfig config = SmallKvConfig();
    config.key_bits = bits;
    EXPECT_TRUE(ConfigRejected(config, "key_bits")) << bits;
    config = SmallKvConfig();
    config.value_bits = bits;
    EXPECT_TRUE(ConfigRejected(config, "value_bits")) << bits;
  }
  for (int window : {INT_MIN, -1}) {
    KvCacheConfig config = SmallKvConfig();
    config.residual_window = window;
    EXPECT_TRUE(ConfigRejected(config, "residual_window " + std::to_string(window)));
  }
  for (double scale : {std::nan(""), HUGE_VAL, -1.0}) {
    KvCacheConfig config = SmallKvConfig();
    config.softmax_scale = scale;
    EXPECT_TRUE(ConfigRejected(config, "softmax_scale"));
  }
}

TEST(LimitsTest, KvCacheAcceptsTheLargestShapesItStates) {
  KvCacheConfig config = SmallKvConfig();
  config.head_dim = 512;
  config.num_kv_heads = KvCacheConfig::kMaxHeads;
  config.num_query_heads = KvCacheConfig::kMaxHeads;
  config.residual_window = INT_MAX;  // never compresses
  StatusOr<std::unique_ptr<KvCache>> cache;
  EXPECT_NO_THROW(cache = KvCache::Create(config));
  ASSERT_TRUE(cache.ok()) << cache.status();
  const std::vector<float> token(static_cast<size_t>(config.num_kv_heads) * config.head_dim, 0.25f);
  ASSERT_TRUE((*cache)->Append(token, token).ok());
  EXPECT_EQ((*cache)->num_compressed_tokens(), 0);
  EXPECT_EQ((*cache)->num_tokens(), 1);
}

TEST(LimitsTest, KvCacheCallsRejectMismatchedShapesBeforeReadingThem) {
  auto cache = KvCache::Create(SmallKvConfig());
  ASSERT_TRUE(cache.ok()) << cache.status();
  const size_t row = 2 * 64;        // floats per token of keys or values
  const size_t query_row = 4 * 64;  // floats per query token
  const std::vector<float> buffer(query_row, 0.25f);
  std::vector<float> out(query_row);
  const size_t huge_rows = size_t{1} << 50;

  EXPECT_TRUE(Rejects([&] { return (*cache)->Attention(buffer, absl::MakeSpan(out)); },
                      StatusCode::kFailedPrecondition, {"the cache holds no tokens"}));
  EXPECT_TRUE(Rejects(
      [&] {
        return (*cache)->Append(Declared(buffer, huge_rows * row + 1), Declared(buffer, row));
      },
      StatusCode::kInvalidArgument, {"Append keys", "not a whole number of rows"}));
  EXPECT_TRUE(Rejects(
      [&] { return (*cache)->Append(Declared(buffer, huge_rows * row), Declared(buffer, row)); },
      StatusCode::kInvalidArgument, {"Append: 1125899906842624 key tokens but 1 value tokens"}));
  EXPECT_EQ((*cache)->num_tokens(), 0);

  ASSERT_TRUE((*cache)->Append(Declared(buffer, row), Declared(buffer, row)).ok());
  EXPECT_TRUE(Rejects(
      [&] { return (*cache)->Attention(Declared(buffer, query_row + 1), absl::MakeSpan(out)); },
      StatusCode::kInvalidArgument, {"Attention: queries hold 257 floats"}));
  EXPECT_TRUE(Rejects(
      [&] {
        return (*cache)->Attention(Declared(buffer, huge_rows * query_row),
                                   DeclaredOutput(out, query_row));
      },
      StatusCode::kInvalidArgument, {"Attention: output holds 256 floats"}));
  EXPECT_TRUE(Rejects([&] { return (*cache)->Attention({}, {}); }, StatusCode::kInvalidArgument,
                      {"not a positive whole number"}));
  EXPECT_TRUE(Rejects([&] { return (*cache)->KeyScores(buffer, DeclaredOutput(out, SIZE_MAX)); },
                      StatusCode::kInvalidArgument, {"KeyScores: output holds"}));

  const KvCacheConfig config = SmallKvConfig();
  EXPECT_TRUE(Rejects(
      [&] {
        return ExactAttention(config, Declared(buffer, huge_rows * row), Declared(buffer, row),
                              buffer, absl::MakeSpan(out));
      },
      StatusCode::kInvalidArgument, {"key tokens and 1 value tokens"}));
  EXPECT_TRUE(Rejects(
      [&] {
        return ExactAttention(config, Declared(buffer, row), Declared(buffer, row),
                              Declared(buffer, huge_rows * query_row), absl::MakeSpan(out));
      },
      StatusCode::kInvalidArgument, {"ExactAttention: queries"}));
}

// --- Vector files -------------------------------------------------------------

// A file per format whose header declares an absurd dimension, and the
// phrase its error must contain.
struct BadHeader {
  std::string name;
  std::string bytes;
  std::string named;
};

std::vector<BadHeader> AbsurdDimensionHeaders() {
  const std::string row = Int32Bytes(1) + Int32Bytes(2);
  const std::string npy_dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1099511627776), }\n";
  const std::string npy = std::string("\x93NUMPY\x01\x00", 8) +
                          std::string{static_cast<char>(npy_dict.size()), 0} + npy_dict;
  return {
      {"max.fvecs", Int32Bytes(INT_MAX) + row, "dimension 2147483647 in row 0 is out of range"},
      {"negative.ivecs", Int32Bytes(-1) + row, "dimension -1 in row 0 is out of range"},
      {"zero.bvecs", Int32Bytes(0) + row, "dimension 0 in row 0 is out of range"},
      {"over.fvecs", Int32Bytes(kMaxVectorDim + 1) + row, "dimension 1048577 in row 0"},
      {"max.fbin", Int32Bytes(1) + Int32Bytes(INT_MAX) + row,
       "dimension 2147483647 in the header is out of range"},
      {"min.u8bin", Int32Bytes(1) + Int32Bytes(INT_MIN) + row,
       "dimension -2147483648 in the header is out of range"},
      {"huge.npy", npy + row, "dimension 1099511627776"},
      {"huge.idx3-ubyte",
       BigEndian32(0x0803) + BigEndian32(1) + BigEndian32(65536) + BigEndian32(65536) + row,
       "dimension 4294967296 in the IDX header"},
  };
}

TEST(LimitsTest, VectorReadersRejectAbsurdDimensionsInEveryHeader) {
  const std::string root = testing::MakeTempDir("limits");
  for (const BadHeader& file : AbsurdDimensionHeaders()) {
    const std::string path = root + "/" + file.name;
    WriteFileBytes(path, file.bytes);
    EXPECT_TRUE(Rejects([&] { return VectorReader::Open(path); }, StatusCode::kDataLoss,
                        {path, file.named}));
    EXPECT_TRUE(Rejects([&] { return ReadVectors(path); }, StatusCode::kDataLoss, {file.named}));
    EXPECT_TRUE(Rejects([&] { return ReadIdRows(path); }, StatusCode::kDataLoss, {file.named}));
  }
}

TEST(LimitsTest, VectorReaderRejectsNegativeRowCountsAndCapsHugeOnes) {
  const std::string root = testing::MakeTempDir("limits");
  const std::string path = root + "/v.fbin";
  Matrix matrix{.rows = 3, .dim = 2, .data = {1, 2, 3, 4, 5, 6}};
  ASSERT_TRUE(WriteVectors(path, matrix, ElementType::kFloat32).ok());
  auto reader = VectorReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<float> out;
  for (int64_t max_rows : {int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    EXPECT_TRUE(Rejects([&] { return (*reader)->ReadRows(max_rows, &out); },
                        StatusCode::kInvalidArgument, {"max_rows", "< 0"}));
  }
  auto fresh = VectorReader::Open(path);
  ASSERT_TRUE(fresh.ok());
  StatusOr<int64_t> rows;
  EXPECT_NO_THROW(rows = (*fresh)->ReadRows(std::numeric_limits<int64_t>::max(), &out));
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, 3);
  EXPECT_EQ(out, matrix.data);
}

TEST(LimitsTest, VectorWriterRejectsAbsurdDimensionsWithoutCreatingTheFile) {
  const std::string root = testing::MakeTempDir("limits");
  for (const std::string name :
       {"a.fvecs", "a.ivecs", "a.bvecs", "a.fbin", "a.u8bin", "a.ibin", "a.npy"}) {
    for (int dim : {INT_MIN, -1, 0, kMaxVectorDim + 1, INT_MAX}) {
      const std::string path = root + "/" + name;
      auto type = name == "a.ivecs" || name == "a.ibin"    ? ElementType::kInt32
                  : name == "a.bvecs" || name == "a.u8bin" ? ElementType::kUint8
                                                           : ElementType::kFloat32;
      EXPECT_TRUE(Rejects([&] { return VectorWriter::Create(path, dim, type); },
                          StatusCode::kInvalidArgument,
                          {path, "dimension " + std::to_string(dim) + " is out of range"}));
      EXPECT_FALSE(fs::exists(path));
    }
  }
}

TEST(LimitsTest, VectorWriterRejectsUnknownElementTypes) {
  const std::string root = testing::MakeTempDir("limits");
  const std::string path = root + "/a.npy";  // .npy takes any element type
  EXPECT_TRUE(Rejects([&] { return VectorWriter::Create(path, 4, static_cast<ElementType>(7)); },
                      StatusCode::kInvalidArgument, {path, "unknown element type 7"}));
  EXPECT_FALSE(fs::exists(path));
}

TEST(LimitsTest, VectorWriterRejectsPartialRowsAndRowCountsBeyondTheFormatBeforeReading) {
  const std::string root = testing::MakeTempDir("limits");
  const std::vector<float> buffer(4, 1.0f);
  auto fbin = VectorWriter::Create(root + "/a.fbin", 4, ElementType::kFloat32);
  ASSERT_TRUE(fbin.ok()) << fbin.status();
  // .fbin counts rows in an int32: 2^31 rows cannot be written.
  EXPECT_TRUE(Rejects([&] { return (*fbin)->Append(Declared(buffer, (size_t{1} << 31) * 4)); },
                      StatusCode::kInvalidArgument, {"this format holds at most 2147483647 rows"}));
  EXPECT_TRUE(Rejects([&] { return (*fbin)->Append(Declared(buffer, SIZE_MAX)); },
                      StatusCode::kInvalidArgument, {"not a whole number of rows of dimension 4"}));
  const std::vector<int64_t> ids(4, 1);
  EXPECT_TRUE(Rejects([&] { return (*fbin)->AppendInt64(Declared(ids, 4 * 1000 + 3)); },
                      StatusCode::kInvalidArgument, {"got 4003 values"}));
  EXPECT_EQ((*fbin)->rows_written(), 0);
  ASSERT_TRUE((*fbin)->Close().ok());
}

TEST(LimitsTest, WholeFileWritersRejectShapesThatDisagreeWithTheirData) {
  const std::string root = testing::MakeTempDir("limits");
  struct Shape {
    int64_t rows;
    int dim;
    size_t values;
  };
  // rows x dim wraps around in size_t to the number of values given.
  const std::vector<Shape> shapes = {
      {int64_t{1} << 62, 4, 0},
      {std::numeric_limits<int64_t>::min(), 2, 0},
      {-(int64_t{1} << 62), 4, 0},
      {-2, 4, 0},
      {3, 2, 5},
  };
  for (const Shape& shape : shapes) {
    const std::string path = root + "/m.fbin";
    Matrix matrix{.rows = shape.rows, .dim = shape.dim, .data = std::vector<float>(shape.values)};
    EXPECT_TRUE(Rejects([&] { return WriteVectors(path, matrix, ElementType::kFloat32); },
                        StatusCode::kInvalidArgument, {path, "rows x dim"}))
        << shape.rows << " x " << shape.dim;
    IdMatrix ids{.rows = shape.rows, .dim = shape.dim, .data = std::vector<int64_t>(shape.values)};
    EXPECT_TRUE(Rejects([&] { return WriteIdRows(root + "/m.ibin", ids); },
                        StatusCode::kInvalidArgument, {"rows x dim"}))
        << shape.rows << " x " << shape.dim;
    EXPECT_FALSE(fs::exists(path));
  }
}

// --- Defects in src/index that this test found (fixed with it).

// A span of 2^63 ids or more once passed the batch limit as a negative size
// and was then read (Remove faulted; Add, whose ids x dim wrapped to 0, too).
TEST(LimitsTest, AddAndRemoveRejectIdSpansBeyondInt64) {
  auto index = SmallIndex();
  const std::vector<int64_t> ids = {1, 2};
  EXPECT_TRUE(Rejects([&] { return index->Remove(Declared(ids, SIZE_MAX)); },
                      StatusCode::kInvalidArgument, {"exceeds the limit of 16777216"}));
  EXPECT_TRUE(Rejects([&] { return index->Add(Declared(ids, size_t{1} << 63), {}); },
                      StatusCode::kInvalidArgument, {"exceeds the limit of 16777216"}));
}

// std::filesystem::absolute("") throws inside Create and Backup, which made
// an INTERNAL "unexpected exception" rather than an error naming the path.
TEST(LimitsTest, CreateAndBackupRejectAnEmptyPath) {
  EXPECT_TRUE(Rejects([] { return TurboQuantIndex::Create("", IndexOptions{.dim = kDim}); },
                      StatusCode::kInvalidArgument, {"empty"}));
  const std::string root = testing::MakeTempDir("limits");
  auto index = TurboQuantIndex::Create(root + "/c", IndexOptions{.dim = kDim});
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE(
      Rejects([&] { return (*index)->Backup(""); }, StatusCode::kInvalidArgument, {"empty"}));
}

// Create did not check the metric: an in-memory index took Metric(42) and
// searched as if it were inner product, and a durable Create wrote
// "metric=unknown" into a catalog that every Open then rejected as DataLoss.
TEST(LimitsTest, CreateRejectsUnknownMetrics) {
  const IndexOptions options{.dim = kDim, .metric = static_cast<Metric>(42)};
  EXPECT_TRUE(Rejects([&] { return TurboQuantIndex::Create(options); },
                      StatusCode::kInvalidArgument, {"metric"}));
  const std::string root = testing::MakeTempDir("limits");
  EXPECT_TRUE(Rejects([&] { return TurboQuantIndex::Create(root + "/c", options); },
                      StatusCode::kInvalidArgument, {"metric"}));
  EXPECT_FALSE(fs::exists(root + "/c"));
}

// The id map once computed id + 1 for every id, which overflows for
// INT64_MAX, so AddWithNewIds handed out ids below the largest one instead of
// answering that no new ids are left.
TEST(LimitsTest, AddWithNewIdsAfterTheLargestPossibleIdIsOutOfRange) {
  auto index = SmallIndex();
  ASSERT_TRUE(
      index->Add({std::numeric_limits<int64_t>::max()}, std::vector<float>(kDim, 1.0f)).ok());
  EXPECT_TRUE(Rejects([&] { return index->AddWithNewIds(std::vector<float>(kDim, 2.0f)); },
                      StatusCode::kOutOfRange, {"no new ids left"}));
}

// An empty index records no id (its largest is -1), so the room for new ids
// is the whole id space, which must be computed without signed overflow;
// UBSan (the ASan build of `make test`) aborts on INT64_MAX - (-1).
TEST(LimitsTest, AddWithNewIdsStartsAtZeroOnAnEmptyIndex) {
  auto index = TurboQuantIndex::Create(IndexOptions{.dim = kDim});
  ASSERT_TRUE(index.ok()) << index.status();
  StatusOr<int64_t> first;
  EXPECT_NO_THROW(first = (*index)->AddWithNewIds(std::vector<float>(kDim, 1.0f)));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0);
}

}  // namespace
}  // namespace turboquant
