// UTF-8 validation and boundaries. Pure functions, thread-safe.
//
//   if (!base::IsValidUtf8(text)) return InvalidArgument("text: not valid UTF-8");
//   size_t n = base::CompleteUtf8Prefix(bytes);   // bytes[0, n) never ends inside a character
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace base {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Length of the longest prefix of `s` that does not end inside an incomplete multi-byte sequence. Invalid bytes
// count as complete (they are single units), so only a truncated but so-far valid tail is held back.
size_t CompleteUtf8Prefix(std::string_view s);

// Byte offset of the first invalid byte, or npos when valid.
size_t FirstInvalidUtf8(std::string_view s);

// Appends code point `cp` (at most U+10FFFF) encoded as UTF-8.
void AppendUtf8(std::string& out, char32_t cp);

}  // namespace base
