// tqindex backup: a consistent copy of a collection in a new directory.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "turboquant/index.h"

namespace tqindex {
namespace {

using turboquant::TurboQuantIndex;

constexpr char kName[] = "backup";

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  flags.AddString("index", std::nullopt, "DIR", "The collection to copy.");
  flags.AddString("to", std::nullopt, "DIR2",
                  "Where the copy goes; must not exist or be empty. Use the same file system to "
                  "share segment files by hard links.");
  if (std::optional<int> done = ParseFlagsOrPrintHelp(
          kName, args, flags,
          "Writes a consistent copy of the collection to --to: a new catalog\n"
          "written from one snapshot plus hard links (or copies) of the\n"
          "immutable segment files, fsynced and then renamed into place. It\n"
          "opens the collection read-only, so it works while a service holds it\n"
          "open for writing, and the copy holds every write acknowledged before\n"
          "the command started. The copy is itself a collection ('tqindex verify\n"
          "--index DIR2' checks it).",
          {"tqindex backup --index sift.tq --to sift.tq.bak"})) {
    return *done;
  }
  absl::StatusOr<std::string> dir = flags.GetString("index");
  if (!dir.ok()) return UsageError(kName, dir.status());
  absl::StatusOr<std::string> to = flags.GetString("to");
  if (!to.ok()) return UsageError(kName, to.status());
  absl::StatusOr<std::unique_ptr<TurboQuantIndex>> index = OpenCollectionDir(*dir, Access::kRead);
  if (!index.ok()) return Failure(kName, index.status());
  const auto start = Clock::now();
  if (absl::Status s = (*index)->Backup(*to); !s.ok()) return Failure(kName, s);
  absl::PrintF("backed up %s (%d vectors) to %s in %.2f s\n", *dir, (*index)->size(), *to,
               SecondsSince(start));
  return kExitOk;
}

}  // namespace

Command BackupCommand() { return {kName, "write a consistent copy of a collection", &Run}; }

}  // namespace tqindex
