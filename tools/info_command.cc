// tqindex info: what a collection holds and how it is stored.
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

using turboquant::IndexOptions;
using turboquant::IndexStats;

constexpr char kName[] = "info";

int Run(const std::vector<std::string>& args) {
  FlagSet flags(kName);
  flags.AddString("index", std::nullopt, "DIR", "The collection.");
  flags.AddBool("json", "Print exactly one JSON object instead of the report.");
  if (std::optional<int> done = ParseFlagsOrPrintHelp(
          kName, args, flags,
          "Prints the collection's settings (dimension, codec, bits, metric, seed,\n"
          "whether float vectors are kept) and contents: live vectors, deleted rows\n"
          "awaiting compaction, rows not yet sealed into a segment, segments, the\n"
          "code size per vector and the bytes on disk. Opens the collection\n"
          "read-only, so it works while a service holds it open for writing\n"
          "(and shows the writes acknowledged before the command started).",
          {"tqindex info --index sift.tq", "tqindex info --index sift.tq --json"})) {
    return *done;
  }
  OpenCollection collection;
  if (std::optional<int> failed = OpenIndexFlag(kName, flags, Access::kRead, &collection)) {
    return *failed;
  }
  const std::string& dir = collection.dir;
  const IndexOptions& o = collection.index->options();
  const IndexStats s = collection.index->Stats();
  const double stored = static_cast<double>(s.count + s.deleted);
  if (flags.GetBool("json")) {
    JsonObject()
        .Str("index", dir)
        .Int("count", s.count)
        .Int("deleted", s.deleted)
        .Int("unsealed", s.unsealed)
        .Int("dim", o.dim)
        .Int("bits", o.bits)
        .Str("codec", turboquant::CodecKindName(o.codec))
        .Str("metric", turboquant::MetricName(o.metric))
        .Bool("keep_vectors", o.keep_vectors)
        .Str("seed", absl::StrFormat("%d", o.seed))
        .Int("segments", s.segments)
        .Int("bytes_per_vector", static_cast<int64_t>(s.bytes_per_vector))
        .Int("code_bytes", static_cast<int64_t>(s.code_bytes))
        .Int("vector_bytes", static_cast<int64_t>(s.vector_bytes))
        .Int("bytes_on_disk", static_cast<int64_t>(s.bytes_on_disk))
        .Print();
    return kExitOk;
  }
  absl::PrintF("collection %s\n", dir);
  absl::PrintF("  vectors          %d live, %d deleted (until compact), %d not yet sealed\n",
               s.count, s.deleted, s.unsealed);
  absl::PrintF("  dimension        %d\n", o.dim);
  absl::PrintF("  codec            %s, %d bits per coordinate, seed %d\n",
               turboquant::CodecKindName(o.codec), o.bits, o.seed);
  absl::PrintF("  metric           %s\n", turboquant::MetricName(o.metric));
  absl::PrintF("  float vectors    %s\n", o.keep_vectors ? "kept (exact re-ranking available)"
                                                        : "not kept (no re-ranking)");
  absl::PrintF("  segments         %d\n", s.segments);
  absl::PrintF("  code size        %d bytes/vector held, codes + norm + scale (float32: %d)\n",
               s.bytes_per_vector, o.dim * 4);
  absl::PrintF("  stored codes     %s%s\n", HumanBytes(static_cast<double>(s.code_bytes)),
               o.keep_vectors ? absl::StrFormat(", float vectors %s",
                                                HumanBytes(static_cast<double>(s.vector_bytes)))
                              : "");
  absl::PrintF("  on disk          %s (%.1f bytes per stored row)\n",
               HumanBytes(static_cast<double>(s.bytes_on_disk)),
               stored > 0 ? s.bytes_on_disk / stored : 0.0);
  return kExitOk;
}

}  // namespace

Command InfoCommand() {
  return {kName, "show a collection's settings, counts, segments and size on disk", &Run};
}

}  // namespace tqindex
