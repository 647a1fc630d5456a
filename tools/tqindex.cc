// tqindex: the TurboQuant command-line tool.
//
//   tqindex <command> [flags]      run a command
//   tqindex --help                 list the commands
//   tqindex <command> --help       the flags of one command, with examples
//
// Every command lives in its own file (tools/<name>_command.cc) and has one
// line in the table of Commands() below (plus the declaration of its entry
// point). Exit codes: 0 ok, 1 failure, 2 bad command line.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/command.h"

namespace tqindex {

// Each command's entry point, from its tools/<name>_command.cc.
Command BuildCommand();
Command AddCommand();
Command DeleteCommand();
Command QueryCommand();
Command InfoCommand();
Command VerifyCommand();
Command CompactCommand();
Command BackupCommand();
Command BenchCommand();
Command DemoCommand();
Command CodecStatsCommand();
Command IngestBenchCommand();
int KvBenchCommand(const std::vector<std::string>& args);

namespace {

// The command table: one line per command.
std::vector<Command> Commands() {
  return {
      BuildCommand(),
      AddCommand(),
      DeleteCommand(),
      QueryCommand(),
      InfoCommand(),
      VerifyCommand(),
      CompactCommand(),
      BackupCommand(),
      BenchCommand(),
      DemoCommand(),
      CodecStatsCommand(),
      IngestBenchCommand(),
      {"kv-bench", "KV-cache fidelity (attention, needle test) and decode speed, synthetic data",
       &KvBenchCommand},
  };
}

void PrintOverview(std::FILE* out) {
  std::fprintf(out,
               "tqindex: TurboQuant vector index tool.\n\n"
               "Usage: tqindex <command> [flags]\n"
               "       tqindex <command> --help   (flags, defaults and examples)\n\n"
               "Commands:\n");
  for (const Command& command : Commands()) {
    std::fprintf(out, "  %-14s %s\n", command.name, command.summary);
  }
}

}  // namespace
}  // namespace tqindex

int main(int argc, char** argv) {
  using tqindex::kExitOk;
  using tqindex::kExitUsage;
  if (argc < 2) {
    tqindex::PrintOverview(stderr);
    return kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    tqindex::PrintOverview(stdout);
    return kExitOk;
  }
  for (const tqindex::Command& command : tqindex::Commands()) {
    if (name == command.name) return command.run(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "tqindex: unknown command '%s'; see 'tqindex --help'\n", name.c_str());
  return kExitUsage;
}
