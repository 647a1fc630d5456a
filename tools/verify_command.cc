// tqindex verify: checks every checksum of a collection and the manifest
// against the files. Exit 0 only when everything checks.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/command.h"
#include "turboquant/index.h"

namespace tqindex {
namespace {

using turboquant::TurboQuantIndex;

constexpr char kName[] = "verify";

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  flags.AddString("index", std::nullopt, "DIR", "The collection.");
  if (absl::Status s = flags.Parse(args); !s.ok()) return UsageError(kName, s);
  if (flags.help_requested()) {
    std::fputs(CommandHelp(kName,
                           "Opens the collection (replaying unsealed writes), then reads every\n"
                           "segment file and checks its checksums and its agreement with the\n"
                           "catalog. Prints OK and exits 0 when everything checks; otherwise\n"
                           "prints the error, naming the damaged file, and exits 1.",
                           flags, {"tqindex verify --index sift.tq"})
                   .c_str(),
               stdout);
    return kExitOk;
  }
  absl::StatusOr<std::string> dir = flags.GetString("index");
  if (!dir.ok()) return UsageError(kName, dir.status());
  absl::StatusOr<std::unique_ptr<TurboQuantIndex>> index = TurboQuantIndex::Open(*dir);
  if (!index.ok()) return Failure(kName, index.status());
  if (absl::Status s = (*index)->Verify(); !s.ok()) return Failure(kName, s);
  const turboquant::IndexStats stats = (*index)->Stats();
  absl::PrintF("OK: %s: %d vectors in %d segments, every checksum matches\n", *dir, stats.count,
               stats.segments);
  return kExitOk;
}

}  // namespace

Command VerifyCommand() {
  return {kName, "check every checksum of a collection (exit 0 only if all match)", &Run};
}

}  // namespace tqindex
