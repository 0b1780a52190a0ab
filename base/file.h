// Whole-file reads with errors that name the path. Thread-safe (no shared state).
//
//   ASSIGN_OR_RETURN(std::string text, base::ReadFile(dir + "/config.json"));
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "base/json.h"

namespace base {

// NOT_FOUND when the file does not exist, INVALID_ARGUMENT when it is not a regular file or cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// ReadFile + Json::Parse; a parse error names the path.
absl::StatusOr<Json> ReadJsonFile(const std::string& path);

bool FileExists(const std::string& path);

// "a/b" + "c" -> "a/b/c".
std::string JoinPath(const std::string& dir, const std::string& name);

}  // namespace base
