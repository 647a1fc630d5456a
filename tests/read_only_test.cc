// Read-only opens: they write nothing into the collection directory (checked
// on a directory without write permission, by an unprivileged process, and
// by comparing every byte and time stamp before and after), and they follow
// a writer in another process: after Refresh() every write and delete the
// writer acknowledged before it is visible, while search, Verify and Backup
// keep working. A second writer is refused with a clear error.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/cli_runner.h"
#include "tests/crash_vectors.h"
#include "tests/test_util.h"
#include "turboquant/index.h"

namespace turboquant {
namespace {

namespace fs = std::filesystem;
using testing::ConsecutiveIds;
using testing::CrashVectors;

// Every entry under `dir` with its size, modification time and contents.
std::string TreeDigest(const std::string& dir) {
  std::set<std::string> lines;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    struct stat info;
    if (::lstat(entry.path().c_str(), &info) != 0) continue;
    std::ostringstream line;
    line << fs::relative(entry.path(), dir).string() << " mtime=" << info.st_mtim.tv_sec << "."
         << info.st_mtim.tv_nsec;
    if (entry.is_regular_file()) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes(std::istreambuf_iterator<char>(in), {});
      line << " size=" << bytes.size() << " hash=" << std::hash<std::string>()(bytes);
    }
    lines.insert(line.str());
  }
  std::string digest;
  for (const std::string& line : lines) digest += line + "\n";
  return digest;
}

void SetWritable(const std::string& dir, bool writable) {
  const auto bits = fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;
  const auto how = writable ? fs::perm_options::add : fs::perm_options::remove;
  fs::permissions(dir, bits, how);
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    fs::permissions(entry.path(), writable && !entry.is_directory() ? fs::perms::owner_write : bits,
                    how);
  }
}

TEST(ReadOnlyTest, ReadOnlyOpenWritesNothingIntoTheDirectory) {
  const std::string root = testing::MakeTempDir("read_only");
  fs::permissions(root, fs::perms::all, fs::perm_options::replace);  // reachable by nobody
  const std::string dir = root + "/c";
  {
    auto index = TurboQuantIndex::Create(dir, {.dim = testing::kCrashDim, .keep_vectors = true},
                                         {.seal_rows = 100});
    ASSERT_TRUE(index.ok()) << index.status();
    for (int64_t first : {0, 100}) {  // two sealed segments
      ASSERT_TRUE((*index)->Add(ConsecutiveIds(first, 100), CrashVectors(first, 100)).ok());
    }
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(200, 50), CrashVectors(200, 50)).ok());
    ASSERT_TRUE((*index)->Remove({3, 150}).ok());                                     // tombstones
    ASSERT_TRUE((*index)->Add(ConsecutiveIds(250, 30), CrashVectors(250, 30)).ok());  // unsealed
  }
  const std::string before = TreeDigest(dir);
  SetWritable(dir, false);

  auto index = TurboQuantIndex::Open(dir, {.read_only = true});
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)->size(), 278);
  EXPECT_TRUE((*index)->Search(testing::CrashVector(7), {.k = 5}).ok());
  EXPECT_TRUE((*index)->Verify().ok());
  EXPECT_TRUE((*index)->Refresh().ok());
  EXPECT_EQ(*(*index)->Get(260), testing::CrashVector(260));
  const Status write = (*index)->Add({900}, testing::CrashVector(900));
  EXPECT_EQ(write.code(), absl::StatusCode::kFailedPrecondition) << write;
  EXPECT_NE(write.message().find("read-only"), std::string::npos) << write;
  EXPECT_TRUE((*index)->Backup(root + "/backup-in-process").ok());

  // collection_reader becomes nobody when started as root, for whom
  // permissions would not bind.
  const testing::CliResult reader =
      testing::RunCli(COLLECTION_READER_PATH, "'" + dir + "' '" + root + "/backup-by-reader'");
  EXPECT_EQ(reader.exit_code, 0) << reader.out << reader.err;
  EXPECT_NE(reader.out.find("COUNT 278\nOK"), std::string::npos) << reader.out;
  index->reset();
  EXPECT_EQ(TreeDigest(dir), before) << "a read-only open changed the directory";
  SetWritable(dir, true);

  for (const char* backup : {"/backup-in-process", "/backup-by-reader"}) {
    auto copy = TurboQuantIndex::Open(root + backup);
    ASSERT_TRUE(copy.ok()) << backup << ": " << copy.status();
    EXPECT_EQ((*copy)->size(), 278) << backup;
    EXPECT_TRUE((*copy)->Verify().ok()) << backup;
    EXPECT_FALSE((*copy)->Contains(150)) << backup;
  }
}

// What the writer process acknowledged, from its report lines.
struct WriterReport {
  std::string text;
  size_t parsed = 0;
  std::set<int64_t> present, removed;
  std::vector<int64_t> pending_add, pending_remove;

  void Parse() {
    size_t end;
    while ((end = text.find('\n', parsed)) != std::string::npos) {
      std::istringstream line(text.substr(parsed, end - parsed));
      parsed = end + 1;
      std::string word;
      line >> word;
      if (word == "ADD") {
        int64_t first, count;
        line >> first >> count;
        pending_add = ConsecutiveIds(first, count);
      } else if (word == "DEL") {
        pending_remove.assign(3, 0);
        line >> pending_remove[0] >> pending_remove[1] >> pending_remove[2];
      } else if (word == "ACK") {
        present.insert(pending_add.begin(), pending_add.end());
        for (int64_t id : pending_remove) present.erase(id), removed.insert(id);
        pending_add.clear();
        pending_remove.clear();
      }
    }
  }
};

TEST(ReadOnlyTest, ReadersFollowAWriterInAnotherProcess) {
  const std::string dir = testing::MakeTempDir("follow") + "/c";
  const testing::ChildProcess child = testing::StartWithStdoutPipe(CRASH_WRITER_PATH, {dir, "0"});
  ASSERT_GE(child.pid, 0) << "could not start " << CRASH_WRITER_PATH;
  const pid_t writer = child.pid;
  const int out = child.stdout_fd;
  WriterReport report;
  char buffer[4096];
  while (report.text.find("READY\n") == std::string::npos) {
    const ssize_t n = read(out, buffer, sizeof(buffer));
    ASSERT_GT(n, 0) << "the writer exited before it was ready";
    report.text.append(buffer, n);
  }
  fcntl(out, F_SETFL, O_NONBLOCK);

  auto second = TurboQuantIndex::Open(dir);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find("open for writing elsewhere"), std::string::npos)
      << second.status();
  auto reader = TurboQuantIndex::Open(dir, {.read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status();

  // After each Refresh every write the writer acknowledged before it is
  // visible. The writer removes ids 0, 7 and 99 of each hundred, possibly
  // after the report was read, so presence is checked for the others.
  const std::string backup_dir = testing::MakeTempDir("follow-backup") + "/b";
  std::set<int64_t> at_backup;
  for (int round = 0; round < 40 && !HasFailure(); ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    for (ssize_t n; (n = read(out, buffer, sizeof(buffer))) > 0;) report.text.append(buffer, n);
    report.Parse();
    std::set<int64_t> present;
    for (int64_t id : report.present) {
      if (id % 100 != 0 && id % 100 != 7 && id % 100 != 99) present.insert(id);
    }
    const std::set<int64_t> removed = report.removed;
    const Status refreshed = (*reader)->Refresh();
    ASSERT_TRUE(refreshed.ok()) << "round " << round << ": " << refreshed;
    for (int64_t id : present) {
      ASSERT_TRUE((*reader)->Contains(id))
          << "round " << round << ": acknowledged id " << id << " not visible after Refresh";
    }
    for (int64_t id : removed) {
      ASSERT_FALSE((*reader)->Contains(id)) << "round " << round << ": removed id " << id;
    }
    ASSERT_TRUE((*reader)->Search(testing::CrashVector(round), {.k = 5, .rerank = 10}).ok());
    if (round % 10 == 5) {
      const Status verified = (*reader)->Verify();
      ASSERT_TRUE(verified.ok()) << "round " << round << ": " << verified;
    }
    if (round == 20) {
      ASSERT_TRUE((*reader)->Backup(backup_dir).ok());
      at_backup = present;
    }
  }
  kill(writer, SIGKILL);
  waitpid(writer, nullptr, 0);
  for (ssize_t n; (n = read(out, buffer, sizeof(buffer))) > 0;) report.text.append(buffer, n);
  close(out);
  report.Parse();
  EXPECT_GT(report.present.size(), 500u) << "the writer made too little progress to test much";

  // Once the writer is gone, a refresh shows every acknowledged write and
  // no acknowledged delete.
  ASSERT_TRUE((*reader)->Refresh().ok());
  for (int64_t id : report.present) {
    if (std::count(report.pending_remove.begin(), report.pending_remove.end(), id)) continue;
    ASSERT_TRUE((*reader)->Contains(id)) << "acknowledged id " << id << " not visible";
  }
  for (int64_t id : report.removed) ASSERT_FALSE((*reader)->Contains(id)) << "removed id " << id;
  EXPECT_TRUE((*reader)->Verify().ok());
  auto backup = TurboQuantIndex::Open(backup_dir, {.read_only = true});
  ASSERT_TRUE(backup.ok()) << backup.status();
  EXPECT_TRUE((*backup)->Verify().ok());
  for (int64_t id : at_backup) ASSERT_TRUE((*backup)->Contains(id)) << "backup lost id " << id;
}

}  // namespace
}  // namespace turboquant
