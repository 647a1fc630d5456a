// File systems for tests that hold one disk operation of the library at a
// chosen moment, so that a test can act while it waits: after Arm, the next
// such operation waits (WaitUntilHeld returns once it does) until Release.
#ifndef TURBOQUANT_TESTS_FILE_GATES_H_
#define TURBOQUANT_TESTS_FILE_GATES_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "rocksdb/file_system.h"

namespace turboquant::testing {

// The arm / hold / release handshake the gates share.
class Gate {
 public:
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
  // Called by the operation: waits for Release the first time after Arm.
  void HoldIfArmed() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!armed_) return;
    armed_ = false;
    held_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false, held_ = false, released_ = false;
};

inline bool EndsWith(const std::string& path, const std::string& suffix) {
  return path.size() >= suffix.size() &&
         path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Holds a rewrite (a seal, a compaction) between its claim of the segments
// and its commit: the creation of the next segment file waits.
class SegmentFileGate : public rocksdb::FileSystemWrapper, public Gate {
 public:
  SegmentFileGate() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "SegmentFileGate"; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    if (EndsWith(path, ".tqs.tmp")) HoldIfArmed();
    return target()->NewWritableFile(path, options, file, debug);
  }
};

// Holds the next append to a vectors log after its bytes are written and
// before it returns: an Add whose vectors are in the log but which has not
// queued for the group commit yet.
class VectorsLogAppendGate : public rocksdb::FileSystemWrapper, public Gate {
 public:
  VectorsLogAppendGate() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "VectorsLogAppendGate"; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    rocksdb::IOStatus status = target()->NewWritableFile(path, options, file, debug);
    if (status.ok() && EndsWith(path, ".vlog")) {
      *file = std::make_unique<HeldAppend>(std::move(*file), this);
    }
    return status;
  }

 private:
  class HeldAppend : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    HeldAppend(std::unique_ptr<rocksdb::FSWritableFile> file, Gate* gate)
        : FSWritableFileOwnerWrapper(std::move(file)), gate_(gate) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override {
      rocksdb::IOStatus status = target()->Append(data, options, debug);
      gate_->HoldIfArmed();
      return status;
    }

   private:
    Gate* gate_;
  };
};

}  // namespace turboquant::testing

#endif  // TURBOQUANT_TESTS_FILE_GATES_H_
