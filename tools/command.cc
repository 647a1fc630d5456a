#include "tools/command.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace tqindex {

int UsageError(const std::string& command, const absl::Status& status) {
  std::fprintf(stderr, "tqindex %s: %s\n", command.c_str(), std::string(status.message()).c_str());
  return kExitUsage;
}

int Failure(const std::string& command, const absl::Status& status) {
  std::fprintf(stderr, "tqindex %s: error: %s\n", command.c_str(),
               std::string(status.message()).c_str());
  return kExitFailure;
}

std::string CommandHelp(const std::string& command, const std::string& description,
                        const FlagSet& flags, const std::vector<std::string>& examples) {
  std::string out = absl::StrCat("Usage: tqindex ", command, " ", flags.UsageLine(), "\n\n",
                                 description, "\n\nFlags:\n", flags.FlagsHelp(),
                                 "  --help\n      Show this help.\n");
  if (!examples.empty()) {
    absl::StrAppend(&out, "\nExample", examples.size() > 1 ? "s" : "", ":\n");
    for (const std::string& example : examples) absl::StrAppend(&out, "  ", example, "\n");
  }
  return out;
}

std::optional<int> ParseFlagsOrPrintHelp(const std::string& command,
                                         const std::vector<std::string>& args, FlagSet& flags,
                                         const std::string& description,
                                         const std::vector<std::string>& examples) {
  if (absl::Status s = flags.Parse(args); !s.ok()) return UsageError(command, s);
  if (!flags.help_requested()) return std::nullopt;
  std::fputs(CommandHelp(command, description, flags, examples).c_str(), stdout);
  return kExitOk;
}

}  // namespace tqindex
