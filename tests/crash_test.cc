// Kills a writing process with SIGKILL at random moments (during adds,
// deletes, seals and compactions) and checks after every restart that each
// acknowledged write is present with its exact vector, each acknowledged
// delete is gone, an unacknowledged batch is all-or-nothing, and Verify passes.
// The kill timer starts once the writer reports that the collection is open,
// however slow the machine; some rounds kill it before that (during Create or
// Open), and then the collection must be absent or whole.
//
// SIGKILL keeps the page cache, so this cannot test fsync: power_loss_test
// does that.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/crash_vectors.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

struct Journal {
  std::set<int64_t> present;                 // acknowledged and not deleted
  std::vector<int64_t> in_flight_add;        // ids of an unacknowledged add
  std::vector<int64_t> in_flight_delete;     // ids of an unacknowledged delete
  int64_t next_id = 0;
};

// Reads from `fd` into *text until it holds `line` or the stream ends.
bool ReadUntil(int fd, const std::string& line, std::string* text) {
  char buffer[4096];
  while (text->find(line) == std::string::npos) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return false;
    text->append(buffer, static_cast<size_t>(n));
  }
  return true;
}

// Starts the writer; once it is ready (or at once, when `before_ready`) lets
// it run for `run_ms`, kills it, and folds its report into `journal`.
// Returns whether the writer had reported ready.
bool RunAndKill(const std::string& dir, int run_ms, bool before_ready, Journal* journal) {
  const testing::ChildProcess writer =
      testing::StartWithStdoutPipe(CRASH_WRITER_PATH, {dir, std::to_string(journal->next_id)});
  EXPECT_GE(writer.pid, 0) << "could not start " << CRASH_WRITER_PATH;
  if (writer.pid < 0) return false;
  const pid_t child = writer.pid;
  const int out = writer.stdout_fd;
  std::string text;
  const bool ready = !before_ready && ReadUntil(out, "READY\n", &text);
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "writer exited on its own with status " << status;
  char buffer[4096];
  for (ssize_t n; (n = read(out, buffer, sizeof(buffer))) > 0;) text.append(buffer, n);
  close(out);

  std::istringstream lines(text);
  std::string word;
  std::vector<int64_t> pending_add, pending_delete;
  journal->in_flight_add.clear();
  journal->in_flight_delete.clear();
  while (lines >> word) {
    if (word == "ADD") {
      int64_t first, count;
      lines >> first >> count;
      pending_add.clear();
      for (int64_t i = 0; i < count; ++i) pending_add.push_back(first + i);
      journal->next_id = std::max(journal->next_id, first + count);
    } else if (word == "DEL") {
      pending_delete.assign(3, 0);
      lines >> pending_delete[0] >> pending_delete[1] >> pending_delete[2];
    } else if (word == "ACK") {
      for (int64_t id : pending_add) journal->present.insert(id);
      for (int64_t id : pending_delete) journal->present.erase(id);
      pending_add.clear();
      pending_delete.clear();
    }
  }
  journal->in_flight_add = pending_add;
  journal->in_flight_delete = pending_delete;
  return ready || text.find("READY\n") != std::string::npos;
}

void CheckCollection(const std::string& dir, Journal* journal, int round) {
  auto index = TurboQuantIndex::Open(dir);
  ASSERT_TRUE(index.ok()) << "round " << round << ": " << index.status();
  ASSERT_TRUE((*index)->Verify().ok()) << "round " << round;
  for (int64_t id : journal->present) {
    if (std::count(journal->in_flight_delete.begin(), journal->in_flight_delete.end(), id)) continue;
    auto vector = (*index)->Get(id);
    ASSERT_TRUE(vector.ok()) << "round " << round << ": acknowledged id " << id << " lost";
    ASSERT_EQ(*vector, testing::CrashVector(id)) << "round " << round << " id " << id;
  }
  // An unacknowledged batch is applied whole or not at all.
  for (const auto* batch : {&journal->in_flight_add, &journal->in_flight_delete}) {
    size_t visible = 0;
    for (int64_t id : *batch) visible += (*index)->Contains(id);
    ASSERT_TRUE(visible == 0 || visible == batch->size())
        << "round " << round << ": " << visible << " of " << batch->size() << " visible";
  }
  // Fold the outcome of the in-flight operations into the journal.
  for (int64_t id : journal->in_flight_add) {
    if ((*index)->Contains(id)) journal->present.insert(id);
  }
  for (int64_t id : journal->in_flight_delete) {
    if (!(*index)->Contains(id)) journal->present.erase(id);
  }
  EXPECT_EQ((*index)->size(), static_cast<int64_t>(journal->present.size())) << "round " << round;
}

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  const std::string dir = testing::MakeTempDir("crash") + "/c";
  std::mt19937 random(12345);
  Journal journal;
  constexpr int kKills = 24;
  for (int round = 0; round < kKills; ++round) {
    // Every fourth round the kill may land while the collection is being
    // created or opened.
    const bool before_ready = round % 4 == 0;
    const int run_ms = before_ready ? static_cast<int>(random() % 40)
                                    : 50 + static_cast<int>(random() % 250);
    const bool ready = RunAndKill(dir, run_ms, before_ready, &journal);
    if (HasFailure()) return;
    std::error_code error;
    if (!ready && journal.present.empty() && !std::filesystem::exists(dir, error)) continue;
    CheckCollection(dir, &journal, round);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(journal.present.size(), 1000u) << "the writer made too little progress to test much";
}

}  // namespace
}  // namespace turboquant
