// Debian's Abseil 20220623 has its own absl::string_view (not std::string_view): StrCat and Status take that.
// Sv() bridges a std::string_view without copying. Pure, thread-safe.
//
//   return absl::InvalidArgumentError(absl::StrCat("no filter named '", Sv(name), "'"));
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace jinja {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace jinja
