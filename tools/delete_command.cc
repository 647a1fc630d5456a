// tqindex delete: deletes ids from a collection (tombstones until compact).
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "tools/collection_util.h"
#include "tools/command.h"
#include "turboquant/index.h"
#include "turboquant/io.h"

namespace tqindex {
namespace {

using turboquant::TurboQuantIndex;

constexpr char kName[] = "delete";

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  flags.AddString("index", std::nullopt, "DIR", "The collection.");
  flags.AddString("ids", std::nullopt, "F",
                  "Integer file (.ivecs .ibin .npy) with one id per row; ids that are not in the "
                  "collection are ignored (and counted).");
  flags.AddBool("json", "Print exactly one JSON object instead of the report.");
  if (std::optional<int> done = ParseFlagsOrPrintHelp(
          kName, args, flags,
          "Deletes the ids listed in --ids and prints how many were present.\n"
          "Deleted rows stay in their segment files (marked dead, never\n"
          "returned) until 'tqindex compact' rewrites the segments. Fails, saying\n"
          "so, while another process holds the collection open for writing.",
          {"tqindex delete --index sift.tq --ids stale_ids.ivecs"})) {
    return *done;
  }
  absl::StatusOr<std::string> dir = flags.GetString("index");
  if (!dir.ok()) return UsageError(kName, dir.status());
  absl::StatusOr<std::string> ids_path = flags.GetString("ids");
  if (!ids_path.ok()) return UsageError(kName, ids_path.status());
  const bool json = flags.GetBool("json");

  absl::StatusOr<std::unique_ptr<TurboQuantIndex>> index = OpenCollectionDir(*dir, Access::kWrite);
  if (!index.ok()) return Failure(kName, index.status());
  absl::StatusOr<turboquant::IdMatrix> ids = turboquant::ReadIdRows(*ids_path);
  if (!ids.ok()) return Failure(kName, ids.status());
  if (ids->dim != 1) {
    return Failure(kName, absl::InvalidArgumentError(absl::StrFormat(
                              "%s: has %d values per row; an ids file has one id per row",
                              *ids_path, ids->dim)));
  }
  absl::StatusOr<int64_t> removed = (*index)->Remove(ids->data);
  if (!removed.ok()) return Failure(kName, removed.status());
  const turboquant::IndexStats stats = (*index)->Stats();
  if (json) {
    JsonObject()
        .Str("index", *dir)
        .Int("requested", ids->rows)
        .Int("deleted", *removed)
        .Int("not_present", ids->rows - *removed)
        .Int("count", stats.count)
        .Int("deleted_rows_stored", stats.deleted)
        .Print();
  } else {
    absl::PrintF("deleted %d of %d ids (%d not present); %s now holds %d vectors and %d "
                 "deleted rows until 'tqindex compact'\n",
                 *removed, ids->rows, ids->rows - *removed, *dir, stats.count, stats.deleted);
  }
  return kExitOk;
}

}  // namespace

Command DeleteCommand() { return {kName, "delete the ids listed in a file", &Run}; }

}  // namespace tqindex
