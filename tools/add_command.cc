// tqindex add: adds (upserts) the vectors of a file to an existing collection.
//
// Ids come from --ids F (one id per row) or are consecutive numbers from
// --first-id (default 0, i.e. the row numbers). An id already in the
// collection is replaced (upsert); the report says how many were.
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

constexpr char kName[] = "add";

void DeclareFlags(FlagSet& flags) {
  flags.AddString("index", std::nullopt, "DIR", "The collection (made by 'tqindex build').");
  flags.AddString("input", std::nullopt, "F",
                  "Vectors to add: .fvecs .bvecs .ivecs .fbin .u8bin .ibin .npy or MNIST IDX "
                  "(.gz ok), with the collection's dimension.");
  AddHdf5DatasetFlag(flags, "dataset", "input", "train");
  flags.AddString("ids", "", "F",
                  "Integer file (.ivecs .ibin .npy) with one id (>= 0) per input row.");
  flags.AddInt("first-id", 0, "N",
               "Without --ids, row r gets id N + r. The default 0 gives the row numbers, which "
               "replace (upsert) vectors already stored under those ids.");
  flags.AddInt("batch", 10000, "N", "Rows per Add (one synced write each), 1..10000000.");
  flags.AddBool("json", "Print exactly one JSON object instead of the report.");
}

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  DeclareFlags(flags);
  if (std::optional<int> done = ParseFlagsOrPrintHelp(
          kName, args, flags,
          "Adds every row of --input to the collection, streaming the file in batches, then\n"
          "seals the new rows into a segment file. Adding is an upsert: a vector whose id is\n"
          "already stored replaces it, and the report counts new and replaced ids. Ids come\n"
          "from --ids, else they are --first-id + row number (so the default, row numbers,\n"
          "replaces ids 0..n-1 of a non-empty collection: pass --first-id to append).\n"
          "For an HDF5 --input (.hdf5 .h5) --dataset picks the dataset to add.\n"
          "Only one process may have a collection open for writing: while a service\n"
          "does, add fails and says so (info, query, verify and backup still work).",
          {"tqindex add --index sift.tq --input more.fvecs --ids more_ids.ivecs",
           "tqindex add --index sift.tq --input more.fvecs --first-id 10000"})) {
    return *done;
  }
  absl::StatusOr<std::string> dir = flags.GetString("index");
  absl::StatusOr<std::string> input = flags.GetString("input");
  absl::StatusOr<turboquant::VectorReaderOptions> input_options =
      ReadHdf5DatasetFlag(flags, "dataset");
  absl::StatusOr<std::string> ids = flags.GetString("ids");
  absl::StatusOr<int64_t> first_id = flags.GetIntInRange("first-id", 0, INT64_MAX / 2);
  absl::StatusOr<int64_t> batch = flags.GetIntInRange("batch", 1, 10000000);
  for (const absl::Status& s : {dir.status(), input.status(), input_options.status(),
                                ids.status(), first_id.status(), batch.status()}) {
    if (!s.ok()) return UsageError(kName, s);
  }
  if (!ids->empty() && flags.IsSet("first-id")) {
    return UsageError(kName, absl::InvalidArgumentError(
                                 "--ids and --first-id exclude each other: ids come from one"));
  }
  const bool json = flags.GetBool("json");

  absl::StatusOr<std::unique_ptr<TurboQuantIndex>> index = OpenCollectionDir(*dir, Access::kWrite);
  if (!index.ok()) return Failure(kName, index.status());
  absl::StatusOr<IngestSource> source = OpenIngestSource(*input, *input_options, *ids, *first_id);
  if (!source.ok()) return Failure(kName, source.status());
  if (absl::Status s = CheckDimension("input", *input, source->vectors->dim(), *dir,
                                      (*index)->options().dim);
      !s.ok()) {
    return Failure(kName, s);
  }
  absl::StatusOr<IngestResult> added = Ingest(*source, **index, *batch, "adding", true);
  if (!added.ok()) return Failure(kName, added.status());
  if (absl::Status s = (*index)->Flush(); !s.ok()) return Failure(kName, s);
  const double rate = PerSecond(added->rows, added->seconds);
  const int64_t count = (*index)->size();
  if (json) {
    JsonObject()
        .Str("index", *dir)
        .Int("rows", added->rows)
        .Int("new", added->rows - added->replaced)
        .Int("replaced", added->replaced)
        .Num("seconds", added->seconds)
        .Num("vectors_per_s", rate)
        .Int("count", count)
        .Print();
  } else {
    absl::PrintF("added %d vectors to %s (%d new ids, %d replaced) in %.2f s (%.0f vectors/s); "
                 "it now holds %d vectors\n",
                 added->rows, *dir, added->rows - added->replaced, added->replaced,
                 added->seconds, rate, count);
  }
  return kExitOk;
}

}  // namespace

Command AddCommand() {
  return {kName, "add (upsert) the vectors of a file to a collection", &Run};
}

}  // namespace tqindex
