// What a tqindex subcommand is, and the helpers every subcommand shares.
//
// To add a command: write tools/<name>_command.cc defining a function that
// returns its Command, and add one line for it to the table in tqindex.cc.
#ifndef TURBOQUANT_TOOLS_COMMAND_H_
#define TURBOQUANT_TOOLS_COMMAND_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/flags.h"

namespace tqindex {

// Exit codes of every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the work failed (I/O, library errors)
constexpr int kExitUsage = 2;    // bad command line

struct Command {
  const char* name;     // "codec-stats"
  const char* summary;  // one line for `tqindex --help`
  // Runs with the arguments after the command name; returns the exit code.
  int (*run)(const std::vector<std::string>& args);
};

// "tqindex <command>: <message>" on stderr; returns kExitUsage.
int UsageError(const std::string& command, const absl::Status& status);
// "tqindex <command>: error: <message>" on stderr; returns kExitFailure.
int Failure(const std::string& command, const absl::Status& status);

// The text of `tqindex <command> --help`: usage line, description, every
// flag with its default, and examples.
std::string CommandHelp(const std::string& command, const std::string& description,
                        const FlagSet& flags, const std::vector<std::string>& examples);

// Parses `args` into `flags`. Returns the exit code when the command is done
// already: kExitUsage after reporting a parse error, kExitOk after printing
// --help (CommandHelp with `description` and `examples`). Returns nullopt when
// the command should go on.
std::optional<int> ParseFlagsOrPrintHelp(const std::string& command,
                                         const std::vector<std::string>& args, FlagSet& flags,
                                         const std::string& description,
                                         const std::vector<std::string>& examples);

// The whole run of a command that declares its flags, reads them into an
// Options value and works on it: ParseFlagsOrPrintHelp, then a usage error
// when `read` fails, a failure when `work` does, else kExitOk.
template <typename Options, typename Work>
int RunCommand(const std::string& command, const std::vector<std::string>& args,
               void (*declare)(FlagSet&), absl::StatusOr<Options> (*read)(const FlagSet&),
               Work&& work, const std::string& description,
               const std::vector<std::string>& examples) {
  FlagSet flags(command);
  declare(flags);
  if (std::optional<int> done =
          ParseFlagsOrPrintHelp(command, args, flags, description, examples)) {
    return *done;
  }
  absl::StatusOr<Options> options = read(flags);
  if (!options.ok()) return UsageError(command, options.status());
  if (absl::Status s = work(*options); !s.ok()) return Failure(command, s);
  return kExitOk;
}

}  // namespace tqindex

#endif  // TURBOQUANT_TOOLS_COMMAND_H_
