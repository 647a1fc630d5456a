// Child process of crash_test: writes to a collection forever, reporting on
// stdout what it is about to do and what was acknowledged, until it is killed.
//   crash_writer DIR FIRST_ID
// Lines: "READY" once the collection is open, then "ADD first count", "ACK",
// "DEL id...", "ACK", "COMPACT", "ACK".
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/crash_vectors.h"
#include "turboquant/index.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crash_writer DIR FIRST_ID\n");
    return 2;
  }
  const std::string dir = argv[1];
  int64_t next = std::atoll(argv[2]);
  using turboquant::TurboQuantIndex;
  const turboquant::OpenOptions tuning{.seal_rows = 600};
  auto index = TurboQuantIndex::Open(dir, tuning);
  if (!index.ok()) {
    index = TurboQuantIndex::Create(
        dir, {.dim = turboquant::testing::kCrashDim, .bits = 3, .keep_vectors = true}, tuning);
  }
  if (!index.ok()) {
    std::fprintf(stderr, "crash_writer: %s\n", index.status().ToString().c_str());
    return 1;
  }
  setvbuf(stdout, nullptr, _IONBF, 0);
  std::printf("READY\n");
  for (int round = 0;; ++round) {
    constexpr int kBatch = 100;
    std::vector<int64_t> ids(kBatch);
    std::vector<float> vectors;
    for (int i = 0; i < kBatch; ++i) {
      ids[i] = next + i;
      const auto v = turboquant::testing::CrashVector(ids[i]);
      vectors.insert(vectors.end(), v.begin(), v.end());
    }
    std::printf("ADD %lld %d\n", static_cast<long long>(next), kBatch);
    if (!(*index)->Add(ids, vectors).ok()) return 1;
    std::printf("ACK\n");
    if (round % 3 == 2) {  // delete a few rows of the previous batch
      const std::vector<int64_t> doomed = {next - kBatch, next - kBatch + 7, next - 1};
      std::printf("DEL %lld %lld %lld\n", static_cast<long long>(doomed[0]),
                  static_cast<long long>(doomed[1]), static_cast<long long>(doomed[2]));
      if (!(*index)->Remove(doomed).ok()) return 1;
      std::printf("ACK\n");
    }
    if (round % 11 == 10) {
      std::printf("COMPACT\n");
      if (!(*index)->Compact().ok()) return 1;
      std::printf("ACK\n");
    }
    next += kBatch;
  }
}
