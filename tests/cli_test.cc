// End-to-end tests of the tqindex binary (path from TQINDEX_PATH): help
// texts, codec-stats output (table and JSON), and exit code 2 with a message
// naming the flag for bad command lines.
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "tests/cli_runner.h"

namespace {

using Result = turboquant::testing::CliResult;
using turboquant::testing::ParseFlatJson;

// Runs `tqindex <args>` through the shell, capturing stdout and stderr.
Result RunTqindex(const std::string& args) {
  return turboquant::testing::RunCli(TQINDEX_PATH, args);
}

double Number(const std::map<std::string, std::string>& fields, const std::string& key) {
  const auto it = fields.find(key);
  EXPECT_NE(it, fields.end()) << "missing key " << key;
  return it == fields.end() ? NAN : std::strtod(it->second.c_str(), nullptr);
}

TEST(CliTest, TopLevelHelpListsCommands) {
  const Result result = RunTqindex("--help");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("codec-stats"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("Usage: tqindex <command>"), std::string::npos) << result.out;
}

TEST(CliTest, CommandHelpTeachesEveryFlag) {
  const Result result = RunTqindex("codec-stats --help");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const char* text : {"--dim D", "--bits B", "--codec mse|prod", "--samples N",
                           "(default: 10000)", "--seed S", "--json", "(required)", "Example"}) {
    EXPECT_NE(result.out.find(text), std::string::npos) << "missing '" << text << "' in\n"
                                                        << result.out;
  }
}

TEST(CliTest, CodecStatsJsonMatchesTheCodebook) {
  const Result result = RunTqindex("codec-stats --dim 128 --bits 4 --codec mse --samples 3000 "
                                   "--queries 20 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::map<std::string, std::string> fields;
  ASSERT_TRUE(ParseFlatJson(result.out, &fields)) << result.out;
  EXPECT_EQ(fields["codec"], "mse");
  EXPECT_NEAR(Number(fields, "mse"), 0.0095, 0.1 * 0.0095);
  EXPECT_NEAR(Number(fields, "mse"), Number(fields, "expected_mse"),
              0.1 * Number(fields, "expected_mse"));
  EXPECT_EQ(Number(fields, "code_bytes"), 72);  // 64 B of indices + two floats
  EXPECT_GT(Number(fields, "encode_vectors_per_s"), 0);
  EXPECT_GT(Number(fields, "ip_rmse"), 0);
  EXPECT_LT(std::fabs(Number(fields, "ip_bias")), Number(fields, "ip_rmse"));
}

TEST(CliTest, CodecStatsProdIsUnbiasedAndSized) {
  const Result result = RunTqindex("codec-stats --dim=128 --bits=4 --codec=prod --samples=2000 "
                                   "--queries=50 --seed=7 --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::map<std::string, std::string> fields;
  ASSERT_TRUE(ParseFlatJson(result.out, &fields)) << result.out;
  EXPECT_EQ(Number(fields, "code_bytes"), 72);  // ARCHITECTURE.md section 4
  // 100k pairs: the mean error is far inside the RMS error of one estimate.
  EXPECT_LT(std::fabs(Number(fields, "ip_bias")), 0.05 * Number(fields, "ip_rmse"));
}

TEST(CliTest, CodecStatsTableIsReadable) {
  const Result result = RunTqindex("codec-stats --dim 64 --bits 2 --codec mse --samples 500 "
                                   "--queries 5");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* text : {"reconstruction MSE", "inner-product bias", "inner-product RMSE",
                           "encode throughput", "bytes per code"}) {
    EXPECT_NE(result.out.find(text), std::string::npos) << result.out;
  }
}

// Exit code 2, nothing on stdout, and a message on stderr naming `flag` (and
// `value` when given).
void ExpectUsageError(const std::string& args, const std::string& flag,
                      const std::string& value = "") {
  const Result result = RunTqindex(args);
  EXPECT_EQ(result.exit_code, 2) << args << "\nstderr: " << result.err;
  EXPECT_TRUE(result.out.empty()) << args << "\nstdout: " << result.out;
  EXPECT_NE(result.err.find(flag), std::string::npos) << args << "\nstderr: " << result.err;
  if (!value.empty()) {
    EXPECT_NE(result.err.find(value), std::string::npos) << args << "\nstderr: " << result.err;
  }
}

TEST(CliTest, BadFlagsExitWithUsageErrorNamingTheFlag) {
  ExpectUsageError("codec-stats --bits 4 --codec mse", "--dim");
  ExpectUsageError("codec-stats --dim 128 --bits 9 --codec mse", "--bits", "9");
  ExpectUsageError("codec-stats --dim 128 --bits 1 --codec prod", "--bits", "1");
  ExpectUsageError("codec-stats --dim 128 --bits 4 --codec pq", "--codec", "pq");
  ExpectUsageError("codec-stats --dim abc --bits 4 --codec mse", "--dim", "abc");
  ExpectUsageError("codec-stats --dim 1 --bits 4 --codec mse", "--dim", "1");
  ExpectUsageError("codec-stats --dim 128 --bits 4 --codec mse --samples 0", "--samples", "0");
  ExpectUsageError("codec-stats --dim 128 --bits 4 --codec mse --seed -3", "--seed", "-3");
  ExpectUsageError("codec-stats --dim 128 --bits 4 --codec mse --samples", "--samples");
  ExpectUsageError("codec-stats --dim 128 --dim 64 --bits 4 --codec mse", "--dim");
}

TEST(CliTest, UnknownFlagSuggestsTheNearestAndHelp) {
  const Result result = RunTqindex("codec-stats --dims 128 --bits 4 --codec mse");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--dims"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("did you mean --dim"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--help"), std::string::npos) << result.err;
}

TEST(CliTest, UnknownCommandAndNoCommandAreUsageErrors) {
  const Result unknown = RunTqindex("frobnicate");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("frobnicate"), std::string::npos) << unknown.err;
  EXPECT_EQ(RunTqindex("").exit_code, 2);
}

}  // namespace
