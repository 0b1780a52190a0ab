// The `awqserve` CLI's command table: each command family lives in its own cmd_<family>.cc and exposes one
// function returning its Command; main.cc lists them. Arguments are parsed per command (no process-global flags),
// so commands may reuse option names (--server, --model) with their own meaning.
//
// Adding a command: write cmd_foo.cc defining `const Command& FooCommand()`, declare and list it in main.cc, and
// add the file to AWQ_CLI_SOURCES in CMakeLists.txt.
//
//   const Command& HealthCommand() {
//     static const Command cmd{"health", "Ask a server's grpc.health.v1 service", "awqserve health ADDR [--service S]",
//                              {{"service", true, "service name (default: the server as a whole)"}}, 1, 1, &RunHealth};
//     return cmd;
//   }
// Thread-safety: commands run on main's thread; the table is immutable.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cli {

struct FlagSpec {
  std::string name;         // without dashes; "no-bos" is given as --no-bos
  bool takes_value = false;  // --name VALUE / --name=VALUE, else a switch
  std::string help;
};

class Args {
 public:
  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // INVALID_ARGUMENT "--flag: expected an integer in [lo, hi], got 'x'".
  [[nodiscard]] absl::StatusOr<int64_t> GetInt(const std::string& flag, int64_t fallback, int64_t lo,
                                               int64_t hi) const;
  [[nodiscard]] absl::StatusOr<double> GetDouble(const std::string& flag, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<Args> ParseArgs(const struct Command& command, const std::vector<std::string>& argv);
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

struct Command {
  std::string name;
  std::string summary;  // one line for `awqserve help`
  std::string usage;    // the synopsis
  std::vector<FlagSpec> flags;
  int min_positional = 0;
  int max_positional = 0;
  // Returns the process exit code; errors go to stderr as "awqserve NAME: message".
  int (*run)(const Args& args) = nullptr;
};

// Parses argv (the arguments after the command name). INVALID_ARGUMENT naming an unknown flag, a missing value or
// a wrong number of positional arguments. "--" ends the flags.
[[nodiscard]] absl::StatusOr<Args> ParseArgs(const Command& command, const std::vector<std::string>& argv);

// The command's help text: usage line, summary and flags.
std::string CommandHelp(const Command& command);

// Prints "awqserve NAME: message" to stderr and returns 1.
int Fail(const Command& command, const std::string& message);

}  // namespace cli
