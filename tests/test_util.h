// Helpers shared by the tests: seeded random data and the shared datasets.
#ifndef TURBOQUANT_TESTS_TEST_UTIL_H_
#define TURBOQUANT_TESTS_TEST_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace turboquant::testing {

// n x dim Gaussian vectors, deterministic in seed.
std::vector<float> GaussianVectors(int n, int dim, uint64_t seed);
// Same, each row scaled to unit length.
std::vector<float> UnitVectors(int n, int dim, uint64_t seed);

// Absolute path of a file under ../shared/data, or "" when it is missing
// (tests then GTEST_SKIP with the path they looked for).
std::string SharedDataPath(const std::string& relative);

// A fresh empty directory under the test temp dir (mkdtemp), removed with
// everything in it when the test program's tests have run.
std::string MakeTempDir(const std::string& name);

// A child process whose standard output the test reads through a pipe.
struct ChildProcess {
  pid_t pid = -1;  // -1 when it could not be started
  int stdout_fd = -1;
};
// Starts `path` with `args` as argv[1...]; the caller reaps it and closes
// stdout_fd.
ChildProcess StartWithStdoutPipe(const std::string& path, const std::vector<std::string>& args);

}  // namespace turboquant::testing

#endif  // TURBOQUANT_TESTS_TEST_UTIL_H_
