// tqindex verify: checks every checksum of a collection and the manifest
// against the files. Exit 0 only when everything checks.
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

constexpr char kName[] = "verify";

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  flags.AddString("index", std::nullopt, "DIR", "The collection.");
  if (std::optional<int> done = ParseFlagsOrPrintHelp(
          kName, args, flags,
          "Opens the collection read-only (replaying unsealed writes in memory;\n"
          "it works while a service holds the collection open for writing),\n"
          "then reads every segment file and checks its checksums and its\n"
          "agreement with the catalog. Prints OK and exits 0 when everything\n"
          "checks; otherwise prints the error, naming the damaged file, and\n"
          "exits 1.",
          {"tqindex verify --index sift.tq"})) {
    return *done;
  }
  OpenCollection collection;
  if (std::optional<int> failed = OpenIndexFlag(kName, flags, Access::kRead, &collection)) {
    return *failed;
  }
  if (absl::Status s = collection.index->Verify(); !s.ok()) return Failure(kName, s);
  const turboquant::IndexStats stats = collection.index->Stats();
  absl::PrintF("OK: %s: %d vectors in %d segments, every checksum matches\n", collection.dir,
               stats.count, stats.segments);
  return kExitOk;
}

}  // namespace

Command VerifyCommand() {
  return {kName, "check every checksum of a collection (exit 0 only if all match)", &Run};
}

}  // namespace tqindex
