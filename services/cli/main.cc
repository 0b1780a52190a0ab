// awqserve: the client CLI. `awqserve COMMAND [args]`; `awqserve help` lists the commands, `awqserve COMMAND --help`
// shows one. Each command family lives in cmd_<family>.cc; this table is the only list of them.
#include <cstdio>
#include <string>
#include <vector>

#include "services/cli/command.h"

namespace cli {
const Command& TokenizeCommand();
const Command& DetokenizeCommand();
const Command& HealthCommand();
const Command& GenerateCommand();
const Command& ModelCommand();
const Command& ChatCommand();
const Command& CompleteCommand();
const Command& BenchCommand();
const Command& RenderCommand();
}  // namespace cli

namespace {

std::vector<const cli::Command*> Commands() {
  return {
      &cli::TokenizeCommand(),
      &cli::DetokenizeCommand(),
      &cli::HealthCommand(),
      &cli::GenerateCommand(),
      &cli::ModelCommand(),
      &cli::ChatCommand(),
      &cli::CompleteCommand(),
      &cli::BenchCommand(),
      &cli::RenderCommand(),
  };
}

void PrintUsage(std::FILE* out) {
  std::fprintf(out, "usage: awqserve COMMAND [args]   (awqserve COMMAND --help for one command)\n\ncommands:\n");
  for (const cli::Command* c : Commands()) std::fprintf(out, "  %-12s %s\n", c->name.c_str(), c->summary.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "help" || name == "--help" || name == "-h") {
    PrintUsage(stdout);
    return 0;
  }
  std::vector<std::string> rest(argv + 2, argv + argc);
  for (const cli::Command* command : Commands()) {
    if (command->name != name) continue;
    for (const std::string& a : rest) {
      if (a == "--help" || a == "-h") {
        std::printf("%s", cli::CommandHelp(*command).c_str());
        return 0;
      }
      if (a == "--") break;
    }
    absl::StatusOr<cli::Args> args = cli::ParseArgs(*command, rest);
    if (!args.ok()) {
      cli::Fail(*command, std::string(args.status().message()));
      return 2;
    }
    return command->run(*args);
  }
  std::fprintf(stderr, "awqserve: unknown command '%s'\n", name.c_str());
  PrintUsage(stderr);
  return 2;
}
