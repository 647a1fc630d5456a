#include "tools/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace tqindex {

bool Progress::Enabled() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(Enabled()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::Update(int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) &&
      !(total_ > 0 && done >= total_)) {
    return;
  }
  last_draw_ = now;
  Draw(done);
}

void Progress::Draw(int64_t done) {
  const double seconds = std::chrono::duration<double>(last_draw_ - start_).count();
  const double rate = seconds > 0 ? done / seconds : 0;
  char tail[96];
  if (total_ > 0) {
    const double fraction = std::clamp(static_cast<double>(done) / total_, 0.0, 1.0);
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.append(kWidth - filled, '.');
    const double eta = rate > 0 ? (total_ - done) / rate : 0;
    std::snprintf(tail, sizeof(tail), "%lld/%lld  %.0f/s  ETA %.0fs",
                  static_cast<long long>(done), static_cast<long long>(total_), rate, eta);
    std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%%  %s", label_.c_str(), bar.c_str(),
                 100 * fraction, tail);
  } else {
    std::snprintf(tail, sizeof(tail), "%lld  %.0f/s", static_cast<long long>(done), rate);
    std::fprintf(stderr, "\r\033[K%s %s", label_.c_str(), tail);
  }
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace tqindex
