// End-to-end tests of the tqindex collection commands (build, add, delete,
// query, info, verify, compact, backup, bench, demo), running the built binary
// (path from TQINDEX_PATH) the way a user would, and checking exit codes,
// --json output and the one-line error messages.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/cli_runner.h"
#include "tests/test_util.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace {

namespace fs = std::filesystem;
using turboquant::testing::GaussianVectors;
using turboquant::testing::MakeTempDir;
using turboquant::testing::SharedDataPath;

using Result = turboquant::testing::CliResult;
using turboquant::testing::ParseFlatJson;

// Runs `tqindex <args>` through the shell, capturing stdout and stderr.
Result RunTqindex(const std::string& args) {
#ifdef TQINDEX_PATH
  return turboquant::testing::RunCli(TQINDEX_PATH, args);
#else
  (void)args;
  return Result{};
#endif
}

std::map<std::string, std::string> Json(const Result& result) {
  std::map<std::string, std::string> fields;
  EXPECT_TRUE(ParseFlatJson(result.out, &fields)) << "not one flat JSON object:\n" << result.out;
  return fields;
}

double Number(const std::map<std::string, std::string>& fields, const std::string& key) {
  const auto it = fields.find(key);
  EXPECT_NE(it, fields.end()) << "missing key " << key;
  return it == fields.end() ? NAN : std::strtod(it->second.c_str(), nullptr);
}

std::string Text(const std::map<std::string, std::string>& fields, const std::string& key) {
  const auto it = fields.find(key);
  EXPECT_NE(it, fields.end()) << "missing key " << key;
  return it == fields.end() ? "" : it->second;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A seeded Gaussian .fvecs file of n x dim.
std::string WriteGaussian(const std::string& dir, const std::string& name, int n, int dim,
                          uint64_t seed) {
  turboquant::Matrix m;
  m.rows = n;
  m.dim = dim;
  m.data = GaussianVectors(n, dim, seed);
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(turboquant::WriteVectors(path, m, turboquant::ElementType::kFloat32).ok());
  return path;
}

std::string WriteIds(const std::string& dir, const std::string& name,
                     const std::vector<int64_t>& ids) {
  turboquant::IdMatrix m;
  m.rows = static_cast<int64_t>(ids.size());
  m.dim = 1;
  m.data = ids;
  const std::string path = dir + "/" + name;
  EXPECT_TRUE(turboquant::WriteIdRows(path, m).ok());
  return path;
}

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> ids;
  for (int64_t i = from; i < to; ++i) ids.push_back(i);
  return ids;
}

std::string OneSegmentFile(const std::string& collection) {
  for (const auto& entry : fs::directory_iterator(fs::path(collection) / "segments")) {
    if (entry.path().extension() == ".tqs") return entry.path().string();
  }
  return "";
}

TEST(CliCollectionTest, SiftsmallLifecycle) {
  REQUIRE_TQINDEX();
  const std::string base = SharedDataPath("siftsmall/siftsmall_base.fvecs");
  const std::string queries = SharedDataPath("siftsmall/siftsmall_query.fvecs");
  const std::string truth = SharedDataPath("siftsmall/siftsmall_groundtruth.ivecs");
  if (base.empty() || queries.empty() || truth.empty()) {
    GTEST_SKIP() << "siftsmall not found under ../shared/data/siftsmall";
  }
  const std::string dir = MakeTempDir("cli_sift");
  const std::string index = dir + "/sift.tq";

  Result r = RunTqindex("build --input " + base + " --index " + index +
                        " --metric l2 --keep-vectors --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
  auto built = Json(r);
  EXPECT_EQ(Number(built, "rows"), 10000);
  EXPECT_GT(Number(built, "vectors_per_s"), 0);
  EXPECT_GT(Number(built, "bytes_on_disk"), 10000 * 72);

  r = RunTqindex("info --index " + index + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = Json(r);
  EXPECT_EQ(Number(info, "count"), 10000);
  EXPECT_EQ(Number(info, "deleted"), 0);
  EXPECT_EQ(Number(info, "unsealed"), 0);
  EXPECT_EQ(Number(info, "dim"), 128);
  EXPECT_EQ(Number(info, "bits"), 4);
  EXPECT_EQ(Text(info, "codec"), "mse");
  EXPECT_EQ(Text(info, "metric"), "l2");
  EXPECT_EQ(Text(info, "keep_vectors"), "true");
  EXPECT_GE(Number(info, "segments"), 1);
  EXPECT_GT(Number(info, "bytes_on_disk"), 0);
  EXPECT_GT(Number(info, "bytes_per_vector"), 0);

  // Measured 0.895 without re-ranking and 1.0 with --rerank 100 (4-bit mse).
  r = RunTqindex("query --index " + index + " --queries " + queries + " --k 10 --rerank 0 " +
                 "--groundtruth " + truth + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto query = Json(r);
  EXPECT_EQ(Number(query, "queries"), 100);
  EXPECT_GT(Number(query, "recall_at_k"), 0.85);
  EXPECT_GT(Number(query, "qps"), 0);
  EXPECT_GT(Number(query, "latency_ms"), 0);
  r = RunTqindex("query --index " + index + " --queries " + queries + " --k 10 --rerank 100 " +
                 "--groundtruth " + truth + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(Number(Json(r), "recall_at_k"), 0.98);

  // Delete the first 1000 ids (and one that is absent).
  std::vector<int64_t> doomed = Range(0, 1000);
  doomed.push_back(123456);
  const std::string ids = WriteIds(dir, "doomed.ivecs", doomed);
  r = RunTqindex("delete --index " + index + " --ids " + ids);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "deleted 1000 of 1001 ids")) << r.out;
  info = Json(RunTqindex("info --index " + index + " --json"));
  EXPECT_EQ(Number(info, "count"), 9000);
  EXPECT_EQ(Number(info, "deleted"), 1000);

  // Deleted ids are never returned.
  const std::string results = dir + "/results.ivecs";
  r = RunTqindex("query --index " + index + " --queries " + queries + " --k 20 --output " +
                 results);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto written = turboquant::ReadIdRows(results);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->rows, 100);
  EXPECT_EQ(written->dim, 20);
  for (const int64_t id : written->data) EXPECT_GE(id, 1000);

  r = RunTqindex("compact --index " + index);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  info = Json(RunTqindex("info --index " + index + " --json"));
  EXPECT_EQ(Number(info, "count"), 9000);
  EXPECT_EQ(Number(info, "deleted"), 0);

  r = RunTqindex("verify --index " + index);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "OK")) << r.out;

  // A backup is a collection of its own.
  r = RunTqindex("backup --index " + index + " --to " + dir + "/copy.tq");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  info = Json(RunTqindex("info --index " + dir + "/copy.tq --json"));
  EXPECT_EQ(Number(info, "count"), 9000);
  EXPECT_EQ(RunTqindex("verify --index " + dir + "/copy.tq").exit_code, 0);
}

TEST(CliCollectionTest, AddUpsertsAndCountsReplacedIds) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_add");
  const std::string index = dir + "/c.tq";
  const std::string first = WriteGaussian(dir, "first.fvecs", 300, 32, 1);
  const std::string second = WriteGaussian(dir, "second.fvecs", 200, 32, 2);
  ASSERT_EQ(RunTqindex("build --input " + first + " --index " + index + " --batch 64").exit_code,
            0);
  Result r = RunTqindex("add --index " + index + " --input " + second + " --first-id 300 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto added = Json(r);
  EXPECT_EQ(Number(added, "rows"), 200);
  EXPECT_EQ(Number(added, "new"), 200);
  EXPECT_EQ(Number(added, "replaced"), 0);
  EXPECT_EQ(Number(added, "count"), 500);
  // Default ids are the row numbers: they replace ids 0..199.
  r = RunTqindex("add --index " + index + " --input " + second + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  added = Json(r);
  EXPECT_EQ(Number(added, "replaced"), 200);
  EXPECT_EQ(Number(added, "count"), 500);
  // Explicit ids.
  const std::string ids = WriteIds(dir, "ids.ivecs", Range(1000, 1200));
  r = RunTqindex("add --index " + index + " --input " + second + " --ids " + ids + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Number(Json(r), "count"), 700);
  EXPECT_EQ(Number(Json(RunTqindex("info --index " + index + " --json")), "count"), 700);
  // An ids file with the wrong number of rows is refused before anything is added.
  const std::string short_ids = WriteIds(dir, "short.ivecs", Range(5000, 5010));
  r = RunTqindex("add --index " + index + " --input " + second + " --ids " + short_ids);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "has 10 ids, but")) << r.err;
  EXPECT_EQ(Number(Json(RunTqindex("info --index " + index + " --json")), "count"), 700);
}

TEST(CliCollectionTest, BuildWithIdsReturnsThoseIds) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_ids");
  const std::string index = dir + "/c.tq";
  const std::string base = WriteGaussian(dir, "base.fvecs", 100, 16, 3);
  const std::string ids = WriteIds(dir, "ids.ivecs", Range(7000, 7100));
  ASSERT_EQ(RunTqindex("build --input " + base + " --ids " + ids + " --index " + index +
                       " --metric l2 --keep-vectors")
                .exit_code,
            0);
  const std::string out = dir + "/out.ivecs";
  // The base itself as queries: every vector's nearest is itself.
  Result r = RunTqindex("query --index " + index + " --queries " + base +
                        " --k 1 --rerank 10 --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto results = turboquant::ReadIdRows(out);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->data.size(), 100u);
  for (int64_t i = 0; i < 100; ++i) EXPECT_EQ(results->data[i], 7000 + i);
}

// build is a bulk load: every documented --json key, and the load's checks.
TEST(CliCollectionTest, BuildJsonHasEveryKeyAndRefusesDuplicateIds) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_build_json");
  const std::string base = WriteGaussian(dir, "base.fvecs", 1000, 32, 4);
  Result r = RunTqindex("build --input " + base + " --index " + dir + "/c.tq" +
                        " --keep-vectors --threads 2 --batch 300 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto built = Json(r);
  EXPECT_EQ(Number(built, "count"), 1000);
  EXPECT_EQ(Number(built, "rows"), 1000);
  EXPECT_GT(Number(built, "seconds"), 0);
  EXPECT_GT(Number(built, "vectors_per_s"), 0);
  EXPECT_GT(Number(built, "bytes_on_disk"), 1000 * 32 * 4);
  EXPECT_EQ(Number(built, "threads"), 2);
  EXPECT_EQ(Number(built, "segments"), 1);
  for (const char* key : {"index", "input", "dim", "bits", "codec", "metric", "keep_vectors",
                          "float32_bytes", "size_ratio", "bytes_per_vector"}) {
    EXPECT_TRUE(built.count(key)) << "missing key " << key;
  }
  EXPECT_EQ(RunTqindex("verify --index " + dir + "/c.tq").exit_code, 0);

  std::vector<int64_t> ids = Range(0, 1000);
  ids[700] = 5;
  const std::string index = dir + "/dup.tq";
  r = RunTqindex("build --input " + base + " --ids " + WriteIds(dir, "dup.ivecs", ids) +
                 " --index " + index);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "id 5 appears more than once")) << r.err;
  EXPECT_FALSE(fs::exists(index));
}

TEST(CliCollectionTest, CorruptSegmentFailsVerifyNamingTheFile) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_corrupt");
  const std::string index = dir + "/c.tq";
  const std::string base = WriteGaussian(dir, "base.fvecs", 2000, 64, 4);
  ASSERT_EQ(RunTqindex("build --input " + base + " --index " + index).exit_code, 0);
  ASSERT_EQ(RunTqindex("verify --index " + index).exit_code, 0);
  const std::string segment = OneSegmentFile(index);
  ASSERT_FALSE(segment.empty());
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = fs::file_size(segment);
    file.seekg(size / 2);
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x5a);
    file.seekp(size / 2);
    file.write(&byte, 1);
  }
  const Result r = RunTqindex("verify --index " + index);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, fs::path(segment).filename().string())) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(CliCollectionTest, ClearErrorsForWrongDirectoriesAndDimensions) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_errors");
  const std::string plain = dir + "/plain";
  fs::create_directories(plain);
  for (const std::string& command : {"info", "verify", "compact"}) {
    const Result r = RunTqindex(command + " --index " + plain);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_TRUE(Contains(r.err, "not a TurboQuant collection")) << command << ": " << r.err;
  }
  Result r = RunTqindex("info --index " + dir + "/missing");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no such directory")) << r.err;

  const std::string index = dir + "/c.tq";
  ASSERT_EQ(RunTqindex("build --input " + WriteGaussian(dir, "b.fvecs", 50, 32, 5) + " --index " +
                       index)
                .exit_code,
            0);
  const std::string wide = WriteGaussian(dir, "wide.fvecs", 10, 48, 6);
  r = RunTqindex("add --index " + index + " --input " + wide);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "dimension mismatch")) << r.err;
  EXPECT_TRUE(Contains(r.err, "48")) << r.err;
  EXPECT_TRUE(Contains(r.err, "32")) << r.err;
  r = RunTqindex("query --index " + index + " --queries " + wide);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "dimension mismatch")) << r.err;

  // Building over an existing collection is refused and leaves it alone.
  r = RunTqindex("build --input " + wide + " --index " + index);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "not empty")) << r.err;
  EXPECT_EQ(RunTqindex("verify --index " + index).exit_code, 0);

  // Re-ranking a collection without the float vectors.
  r = RunTqindex("query --index " + index + " --queries " + dir + "/b.fvecs --rerank 10");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "keep_vectors")) << r.err;

  // --batch 0 picks the batch size; below it is a usage error.
  r = RunTqindex("build --input " + wide + " --index " + dir + "/neg.tq --batch -1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--batch: -1 is out of range (0..10000000)")) << r.err;
  EXPECT_FALSE(fs::exists(dir + "/neg.tq"));
  EXPECT_EQ(RunTqindex("build --input " + wide + " --index " + dir + "/zero.tq --batch 0").exit_code,
            0);
}

TEST(CliCollectionTest, FailedBuildRemovesTheIncompleteCollection) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_failed_build");
  turboquant::Matrix m;
  m.rows = 500;
  m.dim = 8;
  m.data = GaussianVectors(500, 8, 7);
  // A raw NaN in row 300 (the writer refuses NaN, so patch the file).
  const std::string path = dir + "/nan.fvecs";
  ASSERT_TRUE(turboquant::WriteVectors(path, m, turboquant::ElementType::kFloat32).ok());
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    const float nan = NAN;
    file.seekp(300 * (4 + 8 * 4) + 4 + 2 * 4);
    file.write(reinterpret_cast<const char*>(&nan), 4);
  }
  const std::string index = dir + "/c.tq";
  const Result r = RunTqindex("build --input " + path + " --index " + index + " --batch 100");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "300")) << r.err;  // the row
  EXPECT_FALSE(fs::exists(index));
}

TEST(CliCollectionTest, BenchJsonRowHasEveryKey) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_bench");
  const std::string base = WriteGaussian(dir, "base.fvecs", 2000, 64, 8);
  const std::string queries = WriteGaussian(dir, "queries.fvecs", 20, 64, 9);
  for (const std::string codec : {"mse", "prod"}) {
    const Result r = RunTqindex("bench --base " + base + " --queries " + queries +
                                " --bits 4 --codec " + codec + " --metric l2 --k 10 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto row = Json(r);
    EXPECT_EQ(Text(row, "method"), "turboquant-" + codec);
    EXPECT_EQ(Number(row, "rerank"), 0);
    EXPECT_EQ(Number(row, "bits_per_dim"), 4);
    EXPECT_GT(Number(row, "bytes_per_vector"), 64 * 4 / 8 - 1);
    EXPECT_GE(Number(row, "build_s"), 0);
    for (const char* key : {"recall_at_10", "recall_1_at_10"}) {
      EXPECT_GT(Number(row, key), 0.3) << key;
      EXPECT_LE(Number(row, key), 1.0) << key;
    }
    EXPECT_GT(Number(row, "latency_ms"), 0);
    EXPECT_GT(Number(row, "qps_1t"), 0);
    EXPECT_GT(Number(row, "qps_all"), 0);
  }
  // Exact re-ranking of 100 candidates finds the exact top 10 here.
  const Result r = RunTqindex("bench --base " + base + " --queries " + queries +
                              " --metric ip --rerank 100 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(Number(Json(r), "recall_at_10"), 0.95);
}

// A file in exactly ann-benchmarks' layout (its attributes; train, test,
// neighbors as int64, distances), the neighbours computed exactly for L2 by
// numpy; skips without h5py. Vectors are integers stored as float32, as
// int64 (fashion-mnist, mnist) and as float64, which all read alike.
TEST(CliCollectionTest, BuildAndQueryAnnBenchmarksHdf5Files) {
  REQUIRE_TQINDEX();
  if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import h5py";
  }
  const std::string dir = MakeTempDir("cli_hdf5");
  {
    std::ofstream script(dir + "/write.py");
    script
        << "import h5py, numpy as np, sys\n"
           "rng = np.random.default_rng(7)\n"
           "train = rng.integers(0, 256, (200, 16))\n"
           "test = rng.integers(0, 256, (5, 16))\n"
           "d = ((test[:, None, :].astype(np.float64) - train[None, :, :]) ** 2).sum(-1)\n"
           "neighbors = np.argsort(d, axis=1, kind='stable')[:, :10]\n"
           "for dtype in ['float32', 'int64', 'float64']:\n"
           "  with h5py.File('%s/%s.hdf5' % (sys.argv[1], dtype), 'w') as f:\n"
           "    f.attrs['distance'] = 'euclidean'\n"
           "    f.attrs['point_type'] = 'float'\n"
           "    f['train'] = train.astype(dtype)\n"
           "    f['test'] = test.astype(dtype)\n"
           "    f['neighbors'] = neighbors.astype(np.int64)\n"
           "    f['distances'] = np.sqrt(np.take_along_axis(d, neighbors, 1)).astype(np.float32)\n";
  }
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir + "/write.py " + dir).c_str()), 0);
  for (const char* dtype : {"int64", "float64"}) {
    const std::string index = dir + "/" + dtype + ".tq";
    const std::string other = dir + "/" + dtype + ".hdf5";
    Result r = RunTqindex("build --input " + other + " --index " + index + " --metric l2 --json");
    ASSERT_EQ(r.exit_code, 0) << dtype << ": " << r.err;
    EXPECT_EQ(Number(Json(r), "rows"), 200);
    r = RunTqindex("query --index " + index + " --queries " + other + " --groundtruth " + other +
                   " --k 10 --json");
    ASSERT_EQ(r.exit_code, 0) << dtype << ": " << r.err;
    EXPECT_GE(Number(Json(r), "recall_at_k"), 0.7) << dtype;
  }
  const std::string file = dir + "/float32.hdf5";
  const std::string index = dir + "/c.tq";

  // build reads 'train' by default; --keep-vectors lets the query re-rank.
  Result r = RunTqindex("build --input " + file + " --index " + index +
                        " --metric l2 --keep-vectors --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Number(Json(r), "rows"), 200);

  // query reads 'test' and 'neighbors' by default. Measured recall 1.0 (0.92
  // without re-ranking).
  r = RunTqindex("query --index " + index + " --queries " + file + " --groundtruth " + file +
                 " --k 10 --rerank 50 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto query = Json(r);
  EXPECT_EQ(Number(query, "queries"), 5);
  EXPECT_GE(Number(query, "recall_at_k"), 0.9);

  // bench reads train/test/neighbors by default too.
  r = RunTqindex("bench --base " + file + " --queries " + file + " --groundtruth " + file +
                 " --metric l2 --rerank 50 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(Number(Json(r), "recall_at_10"), 0.9);

  // --dataset picks another dataset of the file; a missing one is named.
  r = RunTqindex("add --index " + index + " --input " + file +
                 " --dataset test --first-id 1000 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Number(Json(r), "count"), 205);
  r = RunTqindex("query --index " + index + " --queries " + file + " --queries-dataset nope");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "nope")) << r.err;
}

// A service holds the collection open for writing (here a TurboQuantIndex of
// the test process); the read commands open it read-only beside it and see
// its acknowledged writes, the write commands fail and say why.
TEST(CliCollectionTest, ReadCommandsWorkWhileAWriterHoldsTheCollection) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_writer_held");
  const std::string index = dir + "/c.tq";
  constexpr int kDim = 16;
  ASSERT_EQ(RunTqindex("build --input " + WriteGaussian(dir, "base.fvecs", 300, kDim, 11) +
                       " --index " + index + " --metric l2 --keep-vectors")
                .exit_code,
            0);
  auto writer = turboquant::TurboQuantIndex::Open(index);
  ASSERT_TRUE(writer.ok()) << writer.status();
  // Acknowledged writes the collection's files hold only in the write-ahead.
  const std::string more = WriteGaussian(dir, "more.fvecs", 50, kDim, 12);
  ASSERT_TRUE((*writer)->Add(Range(300, 350), GaussianVectors(50, kDim, 12)).ok());
  ASSERT_EQ(*(*writer)->Remove(std::vector<int64_t>{0, 1}), 2);

  Result r = RunTqindex("info --index " + index + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = Json(r);
  EXPECT_EQ(Number(info, "count"), 348);
  EXPECT_EQ(Number(info, "unsealed"), 50);
  r = RunTqindex("verify --index " + index);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "OK")) << r.out;
  // The added vectors find themselves.
  const std::string out = dir + "/out.ivecs";
  r = RunTqindex("query --index " + index + " --queries " + more + " --k 1 --rerank 10 --output " +
                 out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto results = turboquant::ReadIdRows(out);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(results->data, Range(300, 350));
  r = RunTqindex("backup --index " + index + " --to " + dir + "/copy.tq");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Number(Json(RunTqindex("info --index " + dir + "/copy.tq --json")), "count"), 348);

  const std::string doomed = WriteIds(dir, "doomed.ivecs", {5});
  for (const std::string& command :
       {"add --index " + index + " --input " + more + " --first-id 1000",
        "delete --index " + index + " --ids " + doomed, "compact --index " + index}) {
    r = RunTqindex(command);
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_TRUE(Contains(r.err, "open for writing elsewhere")) << command << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ((*writer)->size(), 348);
  EXPECT_TRUE((*writer)->Contains(5));

  // Once the service lets go, writing works again.
  writer->reset();
  r = RunTqindex("add --index " + index + " --input " + more + " --first-id 1000 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Number(Json(r), "count"), 398);
}

TEST(CliCollectionTest, QueryAllowAndExcludeIdFiles) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_filter");
  const std::string index = dir + "/c.tq";
  const std::string base = WriteGaussian(dir, "base.fvecs", 200, 16, 13);
  ASSERT_EQ(RunTqindex("build --input " + base + " --index " + index +
                       " --metric l2 --keep-vectors")
                .exit_code,
            0);
  const std::string query = "query --index " + index + " --queries " + base +
                            " --k 5 --rerank 200 --latency-queries 0 ";
  const std::string out = dir + "/out.ivecs";
  auto read_out = [&] {
    auto ids = turboquant::ReadIdRows(out);
    EXPECT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(ids->rows, 200);
    return ids.ok() ? ids->data : std::vector<int64_t>{};
  };

  // Allow: 3 of the 4 listed ids exist, so each query gets those 3 and -1 twice.
  const std::string allow = WriteIds(dir, "allow.ivecs", {3, 50, 199, 5000});
  Result r = RunTqindex(query + "--allow-ids " + allow + " --json --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto json = Json(r);
  EXPECT_EQ(Text(json, "filter"), "allow");
  EXPECT_EQ(Number(json, "filter_ids"), 4);
  EXPECT_EQ(Number(json, "results"), 200 * 3);
  std::vector<int64_t> ids = read_out();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i % 5 < 3) {
      EXPECT_TRUE(ids[i] == 3 || ids[i] == 50 || ids[i] == 199) << i << ": " << ids[i];
    } else {
      EXPECT_EQ(ids[i], -1) << i;
    }
  }

  // An empty allow list returns nothing, in every id format with a header.
  for (const std::string& empty :
       {WriteIds(dir, "empty.ibin", {}), WriteIds(dir, "empty.npy", {})}) {
    r = RunTqindex(query + "--allow-ids " + empty + " --json --output " + out);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Number(Json(r), "results"), 0);
    for (const int64_t id : read_out()) ASSERT_EQ(id, -1);
    r = RunTqindex(query + "--allow-ids " + empty);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(Contains(r.out, "allowing only the 0 ids")) << r.out;
    EXPECT_TRUE(Contains(r.out, "  0: no results")) << r.out;
  }
  // An empty .ivecs file cannot be read: an error, never "no filter".
  std::ofstream(dir + "/empty.ivecs").close();
  r = RunTqindex(query + "--allow-ids " + dir + "/empty.ivecs");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "empty.ivecs")) << r.err;

  // Exclude: rows of an .npy file with two ids each, flattened. Every other
  // vector still finds itself first.
  turboquant::IdMatrix pairs;
  pairs.rows = 50;
  pairs.dim = 2;
  pairs.data = Range(0, 100);
  ASSERT_TRUE(turboquant::WriteIdRows(dir + "/exclude.npy", pairs).ok());
  r = RunTqindex(query + "--exclude-ids " + dir + "/exclude.npy --json --output " + out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json = Json(r);
  EXPECT_EQ(Text(json, "filter"), "exclude");
  EXPECT_EQ(Number(json, "filter_ids"), 100);
  EXPECT_EQ(Number(json, "results"), 200 * 5);
  ids = read_out();
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_GE(ids[i], 100) << i;
  for (int64_t q = 100; q < 200; ++q) EXPECT_EQ(ids[q * 5], q);

  r = RunTqindex(query + "--allow-ids " + allow + " --exclude-ids " + allow);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "exclude each other")) << r.err;
  r = RunTqindex("query --help");
  for (const char* text : {"--allow-ids F", "--exclude-ids F", "returns nothing"}) {
    EXPECT_TRUE(Contains(r.out, text)) << "missing '" << text << "' in\n" << r.out;
  }
}

TEST(CliCollectionTest, HelpAndUsageErrors) {
  REQUIRE_TQINDEX();
  const Result top = RunTqindex("--help");
  for (const char* command : {"build", "add", "delete", "query", "info", "verify", "compact",
                              "backup", "bench", "demo"}) {
    EXPECT_TRUE(Contains(top.out, std::string("  ") + command + " ")) << command;
    const Result r = RunTqindex(std::string(command) + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_TRUE(Contains(r.out, "Usage: tqindex " + std::string(command))) << r.out;
    EXPECT_TRUE(Contains(r.out, "Example")) << r.out;
  }
  const Result build = RunTqindex("build --help");
  for (const char* text : {"--input F  (required)", "--bits B  (default: 4)", "--codec mse|prod",
                           "--metric ip|cosine|l2", "--keep-vectors", "--batch N"}) {
    EXPECT_TRUE(Contains(build.out, text)) << "missing '" << text << "' in\n" << build.out;
  }
  Result r = RunTqindex("build --index /tmp/x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--input")) << r.err;
  r = RunTqindex("build --input a.fvecs --index b --metric manhattan");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--metric")) << r.err;
  r = RunTqindex("query --index a --queries b --k 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "--k")) << r.err;
}

TEST(CliCollectionTest, DemoRunsOnFashionMnist) {
  REQUIRE_TQINDEX();
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Debian package dataset-fashion-mnist is not installed";
  }
  const Result r = RunTqindex("demo --queries 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  for (const char* text : {"vectors/s", "bytes/vector", "recall@10", "--rerank 100", "qps",
                           "ms", "Removed the temporary collection"}) {
    EXPECT_TRUE(Contains(r.out, text)) << "missing '" << text << "' in\n" << r.out;
  }
}

TEST(CliCollectionTest, DemoExplainsAMissingDataset) {
  REQUIRE_TQINDEX();
  const std::string dir = MakeTempDir("cli_demo_missing");
  const Result r = RunTqindex("demo --data " + dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "apt-get install dataset-fashion-mnist")) << r.err;
}

TEST(CliCollectionTest, IngestBenchReportsAcknowledgedRateLatencyAndBackgroundWork) {
  const Result r = RunTqindex(
      "ingest-bench --dim 16 --writers 2 --batch 50 --seal-rows 500 --keep-vectors --seconds 0.5 "
      "--json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto fields = Json(r);
  EXPECT_GT(Number(fields, "acknowledged_vectors"), 0);
  EXPECT_GT(Number(fields, "acknowledged_vectors_per_s"), 0);
  EXPECT_GT(Number(fields, "p99_add_ms"), 0);
  EXPECT_GE(Number(fields, "p99_add_ms"), Number(fields, "p50_add_ms"));
  EXPECT_GE(Number(fields, "seals"), 0);
  EXPECT_GE(Number(fields, "compactions"), 0);
  EXPECT_EQ(Number(fields, "writers"), 2);
}

TEST(CliCollectionTest, IngestBenchRejectsBadFlags) {
  EXPECT_EQ(RunTqindex("ingest-bench --writers 0").exit_code, 2);
  EXPECT_EQ(RunTqindex("ingest-bench --seconds -1").exit_code, 2);
}

}  // namespace
