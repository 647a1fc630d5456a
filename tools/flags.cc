#include "tools/flags.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tqindex {
namespace {

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

absl::Status BadValue(const std::string& name, const std::string& text, const char* expected) {
  return absl::InvalidArgumentError(
      absl::StrFormat("--%s: '%s' is not %s", name, text, expected));
}

}  // namespace

FlagSet::FlagSet(std::string command) : command_(std::move(command)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

void FlagSet::AddInt(const std::string& name, std::optional<int64_t> default_value,
                     const std::string& placeholder, const std::string& help) {
  Add({name, Type::kInt,
       default_value ? std::optional<std::string>(absl::StrCat(*default_value)) : std::nullopt,
       placeholder, help});
}

void FlagSet::AddUint64(const std::string& name, std::optional<uint64_t> default_value,
                        const std::string& placeholder, const std::string& help) {
  Add({name, Type::kUint64,
       default_value ? std::optional<std::string>(absl::StrCat(*default_value)) : std::nullopt,
       placeholder, help});
}

void FlagSet::AddDouble(const std::string& name, std::optional<double> default_value,
                        const std::string& placeholder, const std::string& help) {
  Add({name, Type::kDouble,
       default_value ? std::optional<std::string>(absl::StrCat(*default_value)) : std::nullopt,
       placeholder, help});
}

void FlagSet::AddString(const std::string& name, std::optional<std::string> default_value,
                        const std::string& placeholder, const std::string& help) {
  Add({name, Type::kString, std::move(default_value), placeholder, help});
}

void FlagSet::AddBool(const std::string& name, const std::string& help) {
  Add({name, Type::kBool, std::string("false"), "", help});
}

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::string FlagSet::Suggest(const std::string& unknown) const {
  const Flag* best = nullptr;
  size_t best_distance = 0;
  for (const Flag& flag : flags_) {
    const size_t distance = EditDistance(unknown, flag.name);
    if (best == nullptr || distance < best_distance) {
      best = &flag;
      best_distance = distance;
    }
  }
  // Only close names are worth suggesting ("dims" -> "dim", not "x" -> "json").
  if (best == nullptr || best_distance > std::max<size_t>(2, unknown.size() / 3)) return "";
  return absl::StrCat(" (did you mean --", best->name, "?)");
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unexpected argument '%s': %s takes only --flags (see 'tqindex %s --help')", arg,
          command_, command_));
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos
                                                                         : equals - 2);
    const Flag* flag = Find(name);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "unknown flag --%s for %s%s; see 'tqindex %s --help'", name, command_, Suggest(name),
          command_));
    }
    if (values_.count(name) > 0) {
      return absl::InvalidArgumentError(absl::StrFormat("--%s is given twice", name));
    }
    if (equals != std::string::npos) {
      values_[name] = arg.substr(equals + 1);
    } else if (flag->type == Type::kBool) {
      values_[name] = "true";  // a bare bool flag; its value never comes from the next word
    } else if (i + 1 < args.size()) {
      values_[name] = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrFormat("--%s needs a value (%s)", name, flag->placeholder));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FlagSet::Text(const std::string& name, Type type) const {
  const Flag* flag = Find(name);
  if (flag == nullptr || flag->type != type) {
    return absl::InternalError(absl::StrFormat("flag --%s is not declared with this type", name));
  }
  const auto given = values_.find(name);
  if (given != values_.end()) return given->second;
  if (flag->default_text) return *flag->default_text;
  return absl::InvalidArgumentError(
      absl::StrFormat("--%s %s is required; see 'tqindex %s --help'", name, flag->placeholder,
                      command_));
}

absl::StatusOr<int64_t> FlagSet::GetInt(const std::string& name) const {
  absl::StatusOr<std::string> text = Text(name, Type::kInt);
  if (!text.ok()) return text.status();
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno == ERANGE) return BadValue(name, *text, "an integer");
  return static_cast<int64_t>(value);
}

absl::StatusOr<uint64_t> FlagSet::GetUint64(const std::string& name) const {
  absl::StatusOr<std::string> text = Text(name, Type::kUint64);
  if (!text.ok()) return text.status();
  errno = 0;
  char* end = nullptr;
  // strtoull accepts "-1" (wrapping it); a sign is never a valid unsigned value.
  const bool has_sign = !text->empty() && ((*text)[0] == '-' || (*text)[0] == '+');
  const unsigned long long value = std::strtoull(text->c_str(), &end, 0);
  if (text->empty() || has_sign || *end != '\0' || errno == ERANGE) {
    return BadValue(name, *text, "an unsigned integer");
  }
  return static_cast<uint64_t>(value);
}

absl::StatusOr<double> FlagSet::GetDouble(const std::string& name) const {
  absl::StatusOr<std::string> text = Text(name, Type::kDouble);
  if (!text.ok()) return text.status();
  char* end = nullptr;
  const double value = std::strtod(text->c_str(), &end);
  if (text->empty() || *end != '\0' || !std::isfinite(value)) {
    return BadValue(name, *text, "a finite number");
  }
  return value;
}

absl::StatusOr<std::string> FlagSet::GetString(const std::string& name) const {
  return Text(name, Type::kString);
}

bool FlagSet::GetBool(const std::string& name) const {
  absl::StatusOr<std::string> text = Text(name, Type::kBool);
  return text.ok() && (*text == "true" || *text == "1" || *text == "yes");
}

absl::StatusOr<int64_t> FlagSet::GetIntInRange(const std::string& name, int64_t min,
                                               int64_t max) const {
  absl::StatusOr<int64_t> value = GetInt(name);
  if (!value.ok()) return value;
  if (*value < min || *value > max) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--%s: %d is out of range (%d..%d)", name, *value, min, max));
  }
  return value;
}

std::string FlagSet::FlagsHelp() const {
  std::string out;
  for (const Flag& flag : flags_) {
    std::string head = absl::StrCat("  --", flag.name);
    if (!flag.placeholder.empty()) absl::StrAppend(&head, " ", flag.placeholder);
    if (flag.type == Type::kBool) {
      // no default shown: absent means false
    } else if (flag.default_text) {
      absl::StrAppend(&head, "  (default: ", flag.default_text->empty() ? "\"\"" : *flag.default_text,
                      ")");
    } else {
      absl::StrAppend(&head, "  (required)");
    }
    absl::StrAppend(&out, head, "\n      ", flag.help, "\n");
  }
  return out;
}

std::string FlagSet::UsageLine() const {
  std::string out;
  for (const Flag& flag : flags_) {
    std::string item = absl::StrCat("--", flag.name);
    if (!flag.placeholder.empty()) absl::StrAppend(&item, " ", flag.placeholder);
    if (flag.default_text) item = absl::StrCat("[", item, "]");
    absl::StrAppend(&out, out.empty() ? "" : " ", item);
  }
  return out;
}

}  // namespace tqindex
