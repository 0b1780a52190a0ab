// The template parser: tokens to a Program (statement and expression trees). Unknown filters and tests are errors
// here, as in jinja2's compile step. Pure function, thread-safe.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Program> program, jinja::Parse(source, /*max_depth=*/64));
//
// Errors are INVALID_ARGUMENT naming line and column; nesting deeper than `max_depth` (blocks or expressions) is
// an error rather than a stack overflow.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "services/template/jinja/ast.h"

namespace jinja {

absl::StatusOr<std::unique_ptr<Program>> Parse(std::string_view source, int max_depth);

// The builtin filter and test tables (filters.cc, tests.cc); null when unknown.
FilterFn FindFilter(std::string_view name);
TestFn FindTest(std::string_view name);

}  // namespace jinja
