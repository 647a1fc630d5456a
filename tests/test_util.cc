#include "tests/test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace turboquant::testing {

std::vector<float> GaussianVectors(int n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(static_cast<size_t>(n) * dim);
  for (float& v : out) v = normal(rng);
  return out;
}

std::vector<float> UnitVectors(int n, int dim, uint64_t seed) {
  std::vector<float> out = GaussianVectors(n, dim, seed);
  for (int i = 0; i < n; ++i) {
    float* row = out.data() + static_cast<size_t>(i) * dim;
    double sum = 0;
    for (int j = 0; j < dim; ++j) sum += double(row[j]) * row[j];
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (int j = 0; j < dim; ++j) row[j] *= inv;
  }
  return out;
}

std::string SharedDataPath(const std::string& relative) {
  const std::filesystem::path path = std::filesystem::path(TQ_SHARED_DATA_DIR) / relative;
  return std::filesystem::exists(path) ? path.string() : "";
}

namespace {

// Removes every directory MakeTempDir made once the test program's tests
// have run, so that `make test` leaves the temp directory as it found it.
class TempDirCleaner : public ::testing::Environment {
 public:
  static TempDirCleaner& Get() {
    static TempDirCleaner* const cleaner = [] {
      auto* made = new TempDirCleaner;
      ::testing::AddGlobalTestEnvironment(made);  // gtest owns it
      return made;
    }();
    return *cleaner;
  }
  void Add(const std::string& dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    dirs_.push_back(dir);
  }
  void TearDown() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& dir : dirs_) {
      std::error_code ignored;
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add, ignored);
      std::filesystem::remove_all(dir, ignored);
    }
    dirs_.clear();
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> dirs_;
};

// Registered before main() runs the tests, since an environment added from
// inside a test would never be torn down.
const bool kCleanerRegistered = (TempDirCleaner::Get(), true);

}  // namespace

std::string MakeTempDir(const std::string& name) {
  std::string pattern =
      (std::filesystem::path(::testing::TempDir()) / (name + ".XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << pattern << ": mkdtemp failed: " << std::strerror(errno);
    return "";
  }
  TempDirCleaner::Get().Add(pattern);
  return pattern;
}

ChildProcess StartWithStdoutPipe(const std::string& path, const std::vector<std::string>& args) {
  // argv is built before fork: the child of a threaded process may only call
  // async-signal-safe functions until it execs.
  std::vector<char*> argv = {const_cast<char*>(path.c_str())};
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int out[2];
  if (::pipe(out) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  if (pid < 0) {
    ::close(out[0]);
    return {};
  }
  return {pid, out[0]};
}

}  // namespace turboquant::testing
