#include "tests/cli_runner.h"

#include <sys/wait.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace turboquant::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

CliResult RunCli(const std::string& binary, const std::string& args) {
  static const std::string dir = MakeTempDir("cli_io");
  const std::string out_path = dir + "/stdout.txt";
  const std::string err_path = dir + "/stderr.txt";
  const std::string command = binary + " " + args + " >" + out_path + " 2>" + err_path;
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

bool ParseFlatJson(const std::string& text, std::map<std::string, std::string>* fields) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  auto read_string = [&](std::string* out) {
    if (i >= text.size() || text[i] != '"') return false;
    std::string value;
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      value += text[i];
    }
    if (i >= text.size()) return false;
    ++i;
    *out = value;
    return true;
  };
  skip_space();
  if (i >= text.size() || text[i++] != '{') return false;
  while (true) {
    skip_space();
    std::string key, value;
    if (!read_string(&key)) return false;
    skip_space();
    if (i >= text.size() || text[i++] != ':') return false;
    skip_space();
    if (i < text.size() && text[i] == '"') {
      if (!read_string(&value)) return false;
    } else {
      const size_t start = i;
      while (i < text.size() && text[i] != ',' && text[i] != '}' &&
             !std::isspace(static_cast<unsigned char>(text[i]))) {
        ++i;
      }
      value = text.substr(start, i - start);
      if (value != "null" && value != "true" && value != "false") {
        char* end = nullptr;
        std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0') return false;
      }
    }
    if (!fields->emplace(key, value).second) return false;  // duplicate key
    skip_space();
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    return false;
  }
  skip_space();
  return i == text.size();  // exactly one object
}

}  // namespace turboquant::testing
