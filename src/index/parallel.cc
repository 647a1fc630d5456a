#include "src/index/parallel.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

namespace turboquant::internal {

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

void ParallelFor(size_t num_tasks, int threads, const std::function<void(size_t)>& fn) {
  const size_t workers = std::min<size_t>(std::max(threads, 1), num_tasks);
  if (workers <= 1) {
    for (size_t task = 0; task < num_tasks; ++task) fn(task);
    return;
  }
  // Tasks are taken one at a time from a shared counter, which balances
  // uneven tasks without any up-front partitioning.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t task = next++; task < num_tasks; task = next++) fn(task);
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  try {
    for (size_t i = 1; i < workers; ++i) pool.emplace_back(work);
  } catch (const std::system_error&) {
    // The system refused another thread: the ones running (at least this
    // one) take every task from the shared counter.
  }
  work();
  for (std::thread& t : pool) t.join();
}

}  // namespace turboquant::internal
