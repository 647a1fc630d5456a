// tqindex compact: rewrites segments without their deleted rows.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "turboquant/index.h"

namespace tqindex {
namespace {

using turboquant::IndexStats;

constexpr char kName[] = "compact";

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  flags.AddString("index", std::nullopt, "DIR", "The collection.");
  if (std::optional<int> done = ParseFlagsOrPrintHelp(
          kName, args, flags,
          "Rewrites every row (sealed or not) except the deleted ones into new\n"
          "segment files (2^30 rows at most each) and swaps them in atomically;\n"
          "the old files are then removed. Prints the deleted rows dropped and\n"
          "the size on disk before\n"
          "and after. Fails, saying so, while another process holds the\n"
          "collection open for writing.",
          {"tqindex compact --index sift.tq"})) {
    return *done;
  }
  OpenCollection collection;
  if (std::optional<int> failed = OpenIndexFlag(kName, flags, Access::kWrite, &collection)) {
    return *failed;
  }
  const auto start = Clock::now();
  const IndexStats before = collection.index->Stats();
  if (absl::Status s = collection.index->Compact(); !s.ok()) return Failure(kName, s);
  const IndexStats after = collection.index->Stats();
  absl::PrintF("compacted %s in %.2f s: dropped %d deleted rows; %d vectors in %d segments; "
               "%s -> %s on disk\n",
               collection.dir, SecondsSince(start), before.deleted - after.deleted, after.count,
               after.segments, HumanBytes(static_cast<double>(before.bytes_on_disk)),
               HumanBytes(static_cast<double>(after.bytes_on_disk)));
  return kExitOk;
}

}  // namespace

Command CompactCommand() {
  return {kName, "rewrite segments without deleted rows (reclaims space)", &Run};
}

}  // namespace tqindex
