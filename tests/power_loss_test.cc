// Simulated power loss at every point of a workload that creates a
// collection, adds, upserts, removes, seals, flushes, compacts, backs up and
// bulk loads, and at many points of concurrent Adds.
// For each crash point the workload runs on a PowerLossFileSystem that cuts
// the power at that operation; the disk is then rolled back to what was
// fsynced, and the reopened collection must hold every acknowledged write
// with its exact vector, show an unacknowledged operation whole or not at
// all, pass Verify, and accept new writes. An acknowledged backup must hold
// exactly the state it was taken from.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "tests/power_loss_file_system.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

constexpr int kDim = 8;

std::vector<float> VectorOf(int64_t id, int version) {
  std::vector<float> v(kDim);
  for (int j = 0; j < kDim; ++j) v[j] = static_cast<float>(std::sin(0.37 * id + 1.3 * j + version));
  return v;
}

struct Step {
  enum Kind { kAdd, kRemove, kBackgroundWork, kFlush, kCompact, kBackup, kBulkLoad } kind;
  int64_t first = 0, count = 0;  // kAdd, kBulkLoad: ids [first, first + count)
  int version = 0;               // kAdd, kBulkLoad
  std::vector<int64_t> ids;      // kRemove
};

// seal_rows is 120, so after the third add a seal is due, which background
// work (run in the test's thread, for a deterministic order of file
// operations) does; the workload passes through every kind of write the
// collection makes.
const std::vector<Step>& Workload() {
  static const auto* steps = new std::vector<Step>{
      {Step::kAdd, 0, 50, 0},
      {Step::kAdd, 50, 50, 0},
      {Step::kRemove, 0, 0, 0, {3, 55, 60}},
      {Step::kAdd, 100, 80, 0},
      {Step::kBackgroundWork},
      {Step::kAdd, 10, 10, 1},  // upserts of sealed rows
      {Step::kRemove, 0, 0, 0, {101, 150, 999}},
      {Step::kFlush},
      {Step::kAdd, 180, 50, 0},
      {Step::kCompact},
      {Step::kRemove, 0, 0, 0, {0, 200}},
      {Step::kBackup},
      {Step::kAdd, 230, 30, 0},
      // Upserts 240..259 and adds 260..279, as two segment files.
      {Step::kBulkLoad, 240, 40, 2},
  };
  return *steps;
}

using Contents = std::map<int64_t, int>;  // id -> version

// What a run got acknowledged before the power went out.
struct Outcome {
  bool created = false;
  Contents acknowledged;
  int failed_step = -1;  // the step the cut interrupted, -1 if none
  bool backup_done = false;
  Contents backup_contents;
};

Contents Apply(const Step& step, Contents contents) {
  if (step.kind == Step::kAdd || step.kind == Step::kBulkLoad) {
    for (int64_t id = step.first; id < step.first + step.count; ++id) contents[id] = step.version;
  } else if (step.kind == Step::kRemove) {
    for (int64_t id : step.ids) contents.erase(id);
  }
  return contents;
}

Status RunStep(TurboQuantIndex& index, const Step& step, const std::string& backup_dir) {
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  for (int64_t id = step.first; id < step.first + step.count; ++id) {
    ids.push_back(id);
    const auto v = VectorOf(id, step.version);
    vectors.insert(vectors.end(), v.begin(), v.end());
  }
  switch (step.kind) {
    case Step::kAdd:
      return index.Add(ids, vectors);
    case Step::kBulkLoad: {
      // 52 bytes a row (4 of codes, 8 of scalars, 8 of id, 32 of vector):
      // segments of 32 rows, in batches of 16 rows.
      auto source = RowSourceFromSpans(ids, vectors, kDim, 16);
      return index.BulkLoad(*source, {.threads = 2, .memory_budget_bytes = 2 * 32 * 52})
          .status();
    }
    case Step::kRemove:
      return index.Remove(step.ids).status();
    case Step::kBackgroundWork:
      return index.WaitForBackgroundWork();
    case Step::kFlush:
      return index.Flush();
    case Step::kCompact:
      return index.Compact();
    case Step::kBackup:
      return index.Backup(backup_dir);
  }
  return absl::InternalError("unknown step");
}

Outcome RunWorkload(const std::string& dir, const std::string& backup_dir,
                    std::shared_ptr<testing::PowerLossFileSystem> fs) {
  Outcome outcome;
  OpenOptions open{.seal_rows = 120, .background_work = false};
  open.file_system = fs;
  auto index = TurboQuantIndex::Create(dir, {.dim = kDim, .bits = 4, .keep_vectors = true}, open);
  if (!index.ok()) return outcome;
  outcome.created = true;
  for (size_t i = 0; i < Workload().size(); ++i) {
    const Step& step = Workload()[i];
    if (!RunStep(**index, step, backup_dir).ok()) {
      outcome.failed_step = static_cast<int>(i);
      break;
    }
    outcome.acknowledged = Apply(step, outcome.acknowledged);
    if (step.kind == Step::kBackup) {
      outcome.backup_done = true;
      outcome.backup_contents = outcome.acknowledged;
    }
  }
  return outcome;
}

// The ids whose state the interrupted step may or may not have changed.
std::vector<int64_t> IdsOf(const Step& step) {
  if (step.kind == Step::kRemove) return step.ids;
  std::vector<int64_t> ids;
  if (step.kind == Step::kAdd || step.kind == Step::kBulkLoad) {
    for (int64_t id = step.first; id < step.first + step.count; ++id) ids.push_back(id);
  }
  return ids;
}

// Checks that `dir` holds exactly `expected`; returns a description of the
// first difference, or "" when they match.
std::string Difference(TurboQuantIndex& index, const Contents& expected) {
  if (Status s = index.Verify(); !s.ok()) return "Verify: " + s.ToString();
  if (index.size() != static_cast<int64_t>(expected.size())) {
    return "holds " + std::to_string(index.size()) + " vectors, expected " +
           std::to_string(expected.size());
  }
  for (const auto& [id, version] : expected) {
    auto got = index.Get(id);
    if (!got.ok()) return "id " + std::to_string(id) + ": " + got.status().ToString();
    if (*got != VectorOf(id, version)) return "id " + std::to_string(id) + " has another vector";
  }
  return "";
}

// The state after an interrupted step: before it or after it, whole.
Contents ResolveInterrupted(TurboQuantIndex& index, const Outcome& outcome, std::string* error) {
  if (outcome.failed_step < 0) return outcome.acknowledged;
  const Step& step = Workload()[outcome.failed_step];
  const Contents after = Apply(step, outcome.acknowledged);
  size_t applied = 0;
  const std::vector<int64_t> ids = IdsOf(step);
  for (int64_t id : ids) {
    auto got = index.Get(id);
    const bool as_after =
        after.count(id) ? got.ok() && *got == VectorOf(id, after.at(id)) : !got.ok();
    applied += as_after ? 1 : 0;
  }
  if (applied == ids.size()) return after;
  if (applied != 0 && step.kind == Step::kRemove) {
    // Ids the step does not change (absent before and after) always count as applied.
    size_t unchanged = 0;
    for (int64_t id : ids) unchanged += !outcome.acknowledged.count(id);
    if (applied == unchanged) return outcome.acknowledged;
  }
  if (applied != 0 && !(step.kind == Step::kRemove)) {
    *error = "step " + std::to_string(outcome.failed_step) + " is half applied (" +
             std::to_string(applied) + " of " + std::to_string(ids.size()) + " ids)";
  }
  return outcome.acknowledged;
}

// Runs the workload with the power cut at operation `cut`, reboots and
// checks; returns what is wrong, or "" when all is well.
std::string CheckCrashPoint(const std::string& root, uint64_t cut) {
  const std::string dir = root + "/c" + std::to_string(cut);
  const std::string backup_dir = dir + "-backup";
  auto fs = std::make_shared<testing::PowerLossFileSystem>();
  fs->CutPowerAt(cut);
  const Outcome outcome = RunWorkload(dir, backup_dir, fs);
  const std::string where =
      "cut at operation " + std::to_string(cut) + " (" + fs->cut_operation() + "): ";
  fs->LoseUnsyncedData();

  std::error_code ignored;
  if (!outcome.created && !std::filesystem::exists(dir, ignored)) return "";  // none, cleanly
  // After the reboot: the same layer with the power on, which spares the
  // checks real fsyncs (the disk is what LoseUnsyncedData left).
  OpenOptions reboot;
  reboot.file_system = fs;
  std::string error;
  {
    auto index = TurboQuantIndex::Open(dir, reboot);
    if (!index.ok()) return where + "reopen: " + index.status().ToString();
    const Contents expected = ResolveInterrupted(**index, outcome, &error);
    if (error.empty()) error = Difference(**index, expected);
    // The recovered collection takes writes again.
    if (error.empty() && !(*index)->Add({5000}, VectorOf(5000, 0)).ok())
      error = "no writes after recovery";
  }
  const bool backup_interrupted =
      outcome.failed_step >= 0 && Workload()[outcome.failed_step].kind == Step::kBackup;
  if (error.empty() && (outcome.backup_done ||
                        (backup_interrupted && std::filesystem::exists(backup_dir, ignored)))) {
    auto backup = TurboQuantIndex::Open(backup_dir, reboot);
    if (!backup.ok()) return where + "backup: " + backup.status().ToString();
    error =
        Difference(**backup, outcome.backup_done ? outcome.backup_contents : outcome.acknowledged);
    if (!error.empty()) error = "in the backup: " + error;
  }
  std::filesystem::remove_all(dir, ignored);
  std::filesystem::remove_all(backup_dir, ignored);
  return error.empty() ? "" : where + error;
}

TEST(PowerLossTest, EveryCrashPointKeepsAcknowledgedWritesAndNothingHalfDone) {
  const std::string root = testing::MakeTempDir("power_loss");
  // A run without a cut counts the operations to walk through.
  auto counter = std::make_shared<testing::PowerLossFileSystem>();
  const Outcome full = RunWorkload(root + "/count", root + "/count-backup", counter);
  ASSERT_EQ(full.failed_step, -1);
  const uint64_t total = counter->operations();
  ASSERT_GE(total, 200u) << "fewer crash points than the suite promises";

  // Crash points are independent, and most of their time is RocksDB waiting
  // (a failed background flush pauses a second before giving up), so they
  // run on several threads, with as many RocksDB flush threads (a pool all
  // instances in a process share).
  constexpr int kThreads = 8;
  rocksdb::Env::Default()->SetBackgroundThreads(kThreads, rocksdb::Env::Priority::HIGH);
  rocksdb::Env::Default()->SetBackgroundThreads(kThreads, rocksdb::Env::Priority::LOW);
  std::atomic<uint64_t> next{1};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (uint64_t cut = next++; cut <= total; cut = next++) {
        std::string failure = CheckCrashPoint(root, cut);
        if (failure.empty()) continue;
        std::lock_guard<std::mutex> lock(mutex);
        failures.push_back(std::move(failure));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << total
                                << " crash points failed; the first: " << failures.front();
  std::printf("power-loss crash points walked: %llu, failed: %zu\n",
              static_cast<unsigned long long>(total), failures.size());
}

// Writers that Add at once append to the vectors log while the leader of
// a group syncs it, and seals start new logs meanwhile. The power is cut at
// many moments of such a run (the order of operations differs from run to
// run, so the points are a sample, not a walk); the reopened collection must
// hold every acknowledged row with its exact vector, and any other row it
// holds must be whole.
TEST(PowerLossTest, ConcurrentAddsKeepEveryAcknowledgedRowAtManyCutPoints) {
  const std::string root = testing::MakeTempDir("power_loss_concurrent");
  constexpr int kWriters = 4, kAddsEach = 15, kBatch = 4;
  std::vector<std::string> failures;
  for (uint64_t cut = 8; cut <= 200; cut += 8) {
    const std::string dir = root + "/c" + std::to_string(cut);
    auto fs = std::make_shared<testing::PowerLossFileSystem>();
    OpenOptions open{.seal_rows = 40};
    open.file_system = fs;
    std::vector<std::vector<int64_t>> acknowledged(kWriters);
    {
      auto index = TurboQuantIndex::Create(dir, {.dim = kDim, .keep_vectors = true}, open);
      ASSERT_TRUE(index.ok()) << index.status();
      fs->CutPowerAt(fs->operations() + cut);
      std::vector<std::thread> writers;
      for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
          for (int a = 0; a < kAddsEach; ++a) {
            const int64_t first = (w * kAddsEach + a) * kBatch;
            std::vector<int64_t> ids(kBatch);
            std::vector<float> vectors;
            for (int i = 0; i < kBatch; ++i) {
              ids[i] = first + i;
              const std::vector<float> v = VectorOf(first + i, 0);
              vectors.insert(vectors.end(), v.begin(), v.end());
            }
            if (!(*index)->Add(ids, vectors).ok()) break;
            acknowledged[w].insert(acknowledged[w].end(), ids.begin(), ids.end());
          }
        });
      }
      for (std::thread& writer : writers) writer.join();
    }
    const std::string where =
        "cut at operation " + std::to_string(cut) + " (" + fs->cut_operation() + "): ";
    fs->LoseUnsyncedData();
    OpenOptions reboot;
    reboot.file_system = fs;
    auto reopened = TurboQuantIndex::Open(dir, reboot);
    if (!reopened.ok()) {
      failures.push_back(where + "reopen: " + reopened.status().ToString());
      continue;
    }
    for (const std::vector<int64_t>& ids : acknowledged) {
      for (int64_t id : ids) {
        auto got = (*reopened)->Get(id);
        if (!got.ok() || *got != VectorOf(id, 0)) {
          failures.push_back(where + "acknowledged id " + std::to_string(id) + " is lost");
        }
      }
    }
    for (int64_t id = 0; id < kWriters * kAddsEach * kBatch; ++id) {
      auto got = (*reopened)->Get(id);
      if (got.ok() && *got != VectorOf(id, 0)) {
        failures.push_back(where + "id " + std::to_string(id) + " holds another vector");
      }
    }
    if (Status s = (*reopened)->Verify(); !s.ok()) failures.push_back(where + s.ToString());
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures; the first: " << failures.front();
}

}  // namespace
}  // namespace turboquant
