// A one-line progress bar on stderr for the long tqindex jobs (build, add,
// demo, brute-force ground truth). It draws only when stderr is a terminal,
// so scripts, pipes and --json consumers never see it.
#ifndef TURBOQUANT_TOOLS_PROGRESS_H_
#define TURBOQUANT_TOOLS_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace tqindex {

class Progress {
 public:
  // `label` precedes the bar ("building"); `total` is the amount of work
  // (rows, queries); 0 or less means unknown (no bar, just a count).
  Progress(std::string label, int64_t total);
  // Erases the bar if Finish() was not called.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Reports that `done` of the total are finished. Redraws at most ten
  // times a second. Thread-safe only from one thread at a time.
  void Update(int64_t done);
  // Erases the bar, leaving the line empty for the command's own output.
  void Finish();

  // Whether bars are drawn at all (stderr is a terminal).
  static bool Enabled();

 private:
  void Draw(int64_t done);

  std::string label_;
  int64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace tqindex

#endif  // TURBOQUANT_TOOLS_PROGRESS_H_
