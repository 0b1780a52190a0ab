// Status helpers for code that returns absl::Status / absl::StatusOr (Debian's Abseil 20220623 has none).
//
//   absl::StatusOr<Config> LoadConfig(const std::string& path) {
//     ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//     RETURN_IF_ERROR(Validate(text));
//     ...
//   }
//
// AWQ_CHECK is for internal invariants only (a bug, never bad input): it prints the condition and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AWQ_STATUS_CONCAT_INNER(a, b) a##b
#define AWQ_STATUS_CONCAT(a, b) AWQ_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status awq_status_ = (expr);               \
    if (!awq_status_.ok()) return awq_status_;         \
  } while (0)

#define AWQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  AWQ_ASSIGN_OR_RETURN_IMPL(AWQ_STATUS_CONCAT(awq_statusor_, __LINE__), lhs, expr)

#define AWQ_CHECK(cond)                                                                    \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: internal invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
