// A small command-line flag parser for the tqindex subcommands.
//
// A command declares its flags (name, type, default, help), then parses the
// arguments after its name. Accepted forms: `--name value`, `--name=value`,
// and for bool flags `--name` or `--name=true|false`. Values are kept as
// text and converted by typed getters, whose errors name the flag and the
// bad value, so a command can report every usage problem the same way.
#ifndef TURBOQUANT_TOOLS_FLAGS_H_
#define TURBOQUANT_TOOLS_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tqindex {

class FlagSet {
 public:
  // `command` names the subcommand in messages ("codec-stats").
  explicit FlagSet(std::string command);

  // Declarations. A flag with no default (std::nullopt) is required; its
  // placeholder (e.g. "D") is shown in the usage line.
  void AddInt(const std::string& name, std::optional<int64_t> default_value,
              const std::string& placeholder, const std::string& help);
  void AddUint64(const std::string& name, std::optional<uint64_t> default_value,
                 const std::string& placeholder, const std::string& help);
  void AddDouble(const std::string& name, std::optional<double> default_value,
                 const std::string& placeholder, const std::string& help);
  void AddString(const std::string& name, std::optional<std::string> default_value,
                 const std::string& placeholder, const std::string& help);
  // Bool flags default to false.
  void AddBool(const std::string& name, const std::string& help);

  // Parses args (everything after the command name). `--help`/`-h` sets
  // help_requested() and stops. Errors: unknown flags (with a suggestion and
  // a pointer to --help), missing values, repeated flags, stray arguments.
  absl::Status Parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_requested_; }

  // Typed values: the parsed text or the default. Errors name the flag:
  // "--dim: missing (required)", "--dim: 'abc' is not an integer".
  absl::StatusOr<int64_t> GetInt(const std::string& name) const;
  absl::StatusOr<uint64_t> GetUint64(const std::string& name) const;
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  absl::StatusOr<std::string> GetString(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  // An integer flag that must lie in [min, max].
  absl::StatusOr<int64_t> GetIntInRange(const std::string& name, int64_t min, int64_t max) const;
  // True when the flag was given on the command line.
  bool IsSet(const std::string& name) const { return values_.count(name) > 0; }

  // "  --dim D (required)\n      help..." for every flag, in declaration order.
  std::string FlagsHelp() const;
  // "--dim D --bits B [--samples N]..." for a usage line.
  std::string UsageLine() const;

 private:
  enum class Type { kInt, kUint64, kDouble, kString, kBool };
  struct Flag {
    std::string name;
    Type type;
    std::optional<std::string> default_text;  // nullopt: required
    std::string placeholder;
    std::string help;
  };

  void Add(Flag flag);
  const Flag* Find(const std::string& name) const;
  // The given text or the default; an error for a missing required flag.
  absl::StatusOr<std::string> Text(const std::string& name, Type type) const;
  std::string Suggest(const std::string& unknown) const;

  std::string command_;
  std::vector<Flag> flags_;
  std::map<std::string, std::string> values_;
  bool help_requested_ = false;
};

}  // namespace tqindex

#endif  // TURBOQUANT_TOOLS_FLAGS_H_
