// Runs independent pieces of a search on several threads.
#ifndef TURBOQUANT_SRC_INDEX_PARALLEL_H_
#define TURBOQUANT_SRC_INDEX_PARALLEL_H_

#include <cstddef>
#include <functional>

namespace turboquant::internal {

// Resolves a requested thread count: 0 means every hardware thread.
int ResolveThreads(int requested);

// Calls fn(task) for task in [0, num_tasks) on up to `threads` threads (the
// caller's thread is one of them); returns when all are done. The other
// threads come from one library-owned pool, started on first need, grown to
// the largest count asked for and reused by every later call: a search pays
// a wake-up, not a thread start. When the system refuses a new thread, the
// threads there are (at least the caller's) do every task.
void ParallelFor(size_t num_tasks, int threads, const std::function<void(size_t)>& fn);

// Threads the pool has started so far (for tests).
size_t PoolThreadsStarted();

}  // namespace turboquant::internal

#endif  // TURBOQUANT_SRC_INDEX_PARALLEL_H_
