// A file system for tests that holds a rewrite (a seal, a compaction) between
// its claim of the segments and its commit: the creation of the next segment
// file waits, after Arm, until Release.
#ifndef TURBOQUANT_TESTS_SEGMENT_FILE_GATE_H_
#define TURBOQUANT_TESTS_SEGMENT_FILE_GATE_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "rocksdb/file_system.h"

namespace turboquant::testing {

class SegmentFileGate : public rocksdb::FileSystemWrapper {
 public:
  SegmentFileGate() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "SegmentFileGate"; }

  void Arm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = true;
  }
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return held_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mutex_);
    released_ = true;
    changed_.notify_all();
  }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    if (path.size() > 8 && path.compare(path.size() - 8, 8, ".tqs.tmp") == 0) {
      std::unique_lock<std::mutex> lock(mutex_);
      if (armed_) {
        armed_ = false;
        held_ = true;
        changed_.notify_all();
        changed_.wait(lock, [&] { return released_; });
      }
    }
    return target()->NewWritableFile(path, options, file, debug);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false, held_ = false, released_ = false;
};

}  // namespace turboquant::testing

#endif  // TURBOQUANT_TESTS_SEGMENT_FILE_GATE_H_
