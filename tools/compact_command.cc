// tqindex compact: rewrites segments without their deleted rows.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "turboquant/index.h"

namespace tqindex {
namespace {

using turboquant::IndexStats;
using turboquant::TurboQuantIndex;

constexpr char kName[] = "compact";

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  flags.AddString("index", std::nullopt, "DIR", "The collection.");
  if (absl::Status s = flags.Parse(args); !s.ok()) return UsageError(kName, s);
  if (flags.help_requested()) {
    std::fputs(CommandHelp(kName,
                           "Rewrites every row (sealed or not) except the deleted ones into one\n"
                           "new segment file and swaps it in atomically; the old files are then\n"
                           "removed. Prints the deleted rows dropped and the size on disk before\n"
                           "and after.",
                           flags, {"tqindex compact --index sift.tq"})
                   .c_str(),
               stdout);
    return kExitOk;
  }
  absl::StatusOr<std::string> dir = flags.GetString("index");
  if (!dir.ok()) return UsageError(kName, dir.status());
  absl::StatusOr<std::unique_ptr<TurboQuantIndex>> index = TurboQuantIndex::Open(*dir);
  if (!index.ok()) return Failure(kName, index.status());
  const auto start = Clock::now();
  const IndexStats before = (*index)->Stats();
  if (absl::Status s = (*index)->Compact(); !s.ok()) return Failure(kName, s);
  const IndexStats after = (*index)->Stats();
  absl::PrintF("compacted %s in %.2f s: dropped %d deleted rows; %d vectors in %d segments; "
               "%s -> %s on disk\n",
               *dir, SecondsSince(start), before.deleted - after.deleted, after.count,
               after.segments, HumanBytes(static_cast<double>(before.bytes_on_disk)),
               HumanBytes(static_cast<double>(after.bytes_on_disk)));
  return kExitOk;
}

}  // namespace

Command CompactCommand() {
  return {kName, "rewrite segments without deleted rows (reclaims space)", &Run};
}

}  // namespace tqindex
