// Helpers for the tests that run a built command-line binary (tqindex): run
// it capturing exit code, stdout and stderr, skip when it is not built, and
// read the flat JSON objects its --json modes print.
#ifndef TURBOQUANT_TESTS_CLI_RUNNER_H_
#define TURBOQUANT_TESTS_CLI_RUNNER_H_

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace turboquant::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `<binary> <args>` through the shell, capturing stdout and stderr in
// files under a per-process temp dir. exit_code is -1 when the process did
// not exit normally.
CliResult RunCli(const std::string& binary, const std::string& args);

// A strict reader for one flat JSON object: string (with backslash escapes),
// number, true/false/null values. Values are kept as text (strings without
// quotes). Returns false on anything else, on a duplicate key, or on text
// after the object.
bool ParseFlatJson(const std::string& text, std::map<std::string, std::string>* fields);

}  // namespace turboquant::testing

// TQINDEX_PATH is a per-target compile definition (tests/CMakeLists.txt), set
// only when the tqindex tool is built.
#ifdef TQINDEX_PATH
#define REQUIRE_TQINDEX()
#else
#define REQUIRE_TQINDEX() GTEST_SKIP() << "tqindex is not built (TQ_BUILD_TOOLS=OFF)"
#endif

#endif  // TURBOQUANT_TESTS_CLI_RUNNER_H_
