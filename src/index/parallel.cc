#include "src/index/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "turboquant/index.h"

namespace turboquant::internal {
namespace {

// One ParallelFor call: its tasks, taken one at a time from a shared counter
// (which balances uneven tasks without partitioning up front), and the pool
// threads it may still borrow. Lives on the caller's stack.
struct Job {
  const std::function<void(size_t)>* fn;
  size_t num_tasks;
  std::atomic<size_t> next{0};
  size_t tickets = 0;  // pool threads it may still take; guarded by the pool mutex
  size_t running = 0;  // pool threads inside Work; guarded by the pool mutex
  std::condition_variable finished;  // running reached 0

  void Work() {
    for (size_t task = next++; task < num_tasks; task = next++) (*fn)(task);
  }
};

// std::mutex and std::condition_variable rather than Abseil's: Debian's
// prebuilt Abseil is not instrumented for ThreadSanitizer.
class Pool {
 public:
  void Run(Job* job, size_t helpers) {
    size_t tickets;  // job->tickets changes once the lock is released
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tickets = job->tickets = std::min(helpers, Grow(helpers));
      if (tickets > 0) queue_.push_back(job);
    }
    for (size_t i = 0; i < tickets; ++i) wake_.notify_one();
    job->Work();
    // Every task is done or running: tickets no thread took are withdrawn,
    // and the job outlives the pool threads still inside it.
    std::unique_lock<std::mutex> lock(mutex_);
    if (job->tickets > 0) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), job));
      job->tickets = 0;
    }
    job->finished.wait(lock, [job] { return job->running == 0; });
  }

  size_t threads_started() {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_.size();
  }

 private:
  // Starts threads until there are `wanted` (under mutex_); returns how many
  // there are, fewer when the system refuses one.
  size_t Grow(size_t wanted) {
    try {
      while (threads_.size() < wanted) threads_.emplace_back([this] { Serve(); });
    } catch (const std::system_error&) {
    }
    return threads_.size();
  }

  void Serve() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return !queue_.empty(); });
      Job* job = queue_.front();
      if (--job->tickets == 0) queue_.pop_front();
      ++job->running;
      lock.unlock();
      job->Work();
      lock.lock();
      // Notified under the lock: the caller may destroy the job as soon as
      // it sees running == 0.
      if (--job->running == 0) job->finished.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;  // queue_ became non-empty
  std::deque<Job*> queue_;        // jobs with tickets left, oldest first
  std::vector<std::thread> threads_;
};

// Never destroyed: its threads wait for work until the process ends, and a
// search running in a static destructor still finds it.
Pool& SharedPool() {
  static Pool* pool = new Pool;
  return *pool;
}

}  // namespace

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(
      std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, kMaxSearchThreads));
}

void ParallelFor(size_t num_tasks, int threads, const std::function<void(size_t)>& fn) {
  const size_t workers = std::min<size_t>(std::clamp(threads, 1, kMaxSearchThreads), num_tasks);
  if (workers <= 1) {
    for (size_t task = 0; task < num_tasks; ++task) fn(task);
    return;
  }
  Job job{&fn, num_tasks};
  SharedPool().Run(&job, workers - 1);
}

size_t PoolThreadsStarted() { return SharedPool().threads_started(); }

}  // namespace turboquant::internal
