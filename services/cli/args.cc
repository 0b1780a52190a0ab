#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/cli/command.h"

namespace cli {

std::string Args::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& flag, int64_t fallback, int64_t lo, int64_t hi) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v) || v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": expected an integer in [", lo, ", ", hi, "], got '", it->second, "'"));
  }
  return v;
}

absl::StatusOr<double> Args::GetDouble(const std::string& flag, double fallback) const {
  auto it = values_.find(flag);
  if (it == values_.end()) return fallback;
  double v;
  if (!absl::SimpleAtod(it->second, &v)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": expected a number, got '", it->second, "'"));
  }
  return v;
}

absl::StatusOr<Args> ParseArgs(const Command& command, const std::vector<std::string>& argv) {
  Args args;
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (flags_done || a.size() < 2 || a.compare(0, 2, "--") != 0) {
      args.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string name = a.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& f : command.flags) {
      if (f.name == name) spec = &f;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see awqserve ", command.name,
                                                     " --help)"));
    }
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= argv.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": needs a value"));
      value = argv[++i];
    } else if (!spec->takes_value && inline_value) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": takes no value"));
    }
    args.values_[name] = value;
  }
  const int n = static_cast<int>(args.positional_.size());
  if (n < command.min_positional || n > command.max_positional) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", command.min_positional,
                                                   command.max_positional == command.min_positional
                                                       ? std::string()
                                                       : absl::StrCat(" to ", command.max_positional),
                                                   " positional argument(s), got ", n, "; usage: ", command.usage));
  }
  return args;
}

std::string CommandHelp(const Command& command) {
  std::string out = absl::StrCat("usage: ", command.usage, "\n\n", command.summary, "\n");
  if (!command.flags.empty()) out += "\nflags:\n";
  for (const FlagSpec& f : command.flags) {
    const std::string left = absl::StrCat("  --", f.name, f.takes_value ? " VALUE" : "");
    out += absl::StrCat(left, std::string(left.size() < 24 ? 24 - left.size() : 1, ' '), f.help, "\n");
  }
  return out;
}

int Fail(const Command& command, const std::string& message) {
  std::fprintf(stderr, "awqserve %s: %s\n", command.name.c_str(), message.c_str());
  return 1;
}

}  // namespace cli
