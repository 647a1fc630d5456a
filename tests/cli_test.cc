// End-to-end tests of the tqindex binary (path from TQINDEX_PATH): help
// texts, codec-stats output (table and JSON), and exit code 2 with a message
// naming the flag for bad command lines.
#include <sys/wait.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace {

struct Result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Runs `tqindex <args>` through the shell, capturing stdout and stderr.
Result RunTqindex(const std::string& args) {
  const std::string dir = ::testing::TempDir();
  const std::string out_path = dir + "/cli_test_stdout.txt";
  const std::string err_path = dir + "/cli_test_stderr.txt";
  const std::string command =
      std::string(TQINDEX_PATH) + " " + args + " >" + out_path + " 2>" + err_path;
  const int status = std::system(command.c_str());
  Result result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

// A strict reader for the flat JSON object codec-stats prints: string,
// number and null values only. Returns false on anything else.
bool ParseFlatJsonObject(const std::string& text, std::map<std::string, std::string>* fields) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto read_string = [&](std::string* out) {
    if (i >= text.size() || text[i] != '"') return false;
    const size_t end = text.find('"', i + 1);
    if (end == std::string::npos) return false;
    *out = text.substr(i + 1, end - i - 1);
    i = end + 1;
    return true;
  };
  skip_space();
  if (i >= text.size() || text[i++] != '{') return false;
  while (true) {
    skip_space();
    std::string key, value;
    if (!read_string(&key)) return false;
    skip_space();
    if (i >= text.size() || text[i++] != ':') return false;
    skip_space();
    if (i < text.size() && text[i] == '"') {
      if (!read_string(&value)) return false;
    } else {
      const size_t start = i;
      while (i < text.size() && text[i] != ',' && text[i] != '}' &&
             !std::isspace(static_cast<unsigned char>(text[i]))) {
        ++i;
      }
      value = text.substr(start, i - start);
      if (value != "null") {
        char* end = nullptr;
        std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0') return false;
      }
    }
    if (!fields->emplace(key, value).second) return false;  // duplicate key
    skip_space();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    return false;
  }
  skip_space();
  return i == text.size();  // exactly one object
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
  ASSERT_TRUE(ParseFlatJsonObject(result.out, &fields)) << result.out;
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
  ASSERT_TRUE(ParseFlatJsonObject(result.out, &fields)) << result.out;
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
