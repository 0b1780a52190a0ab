// Code-point helpers with Python's str semantics, for the template engine's string methods and filters.
// Pure functions, thread-safe.
//
//   std::vector<char32_t> cps = jinja::DecodeUtf8("héllo");   // 5 code points
//   if (jinja::IsPyWhitespace(cps[0])) ...
//
// Case mapping covers Latin (incl. Vietnamese), Greek, Cyrillic, Armenian and full-width Latin with Python's simple
// mappings (plus ß -> SS and İ -> i̇); other scripts map to themselves.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/utf8.h"

namespace jinja {

// Decodes the code point starting at s[pos]; sets *len to its byte length. An invalid byte decodes as itself
// with length 1 (inputs are validated at the boundary, so this only keeps the engine total).
char32_t DecodeAt(std::string_view s, size_t pos, size_t* len);
using base::AppendUtf8;
// Number of code points (Python len()).
size_t CodePointCount(std::string_view s);
// Byte offset of code point `index` (index <= count; index == count gives s.size()).
size_t ByteOffsetOfCodePoint(std::string_view s, size_t index);
bool IsAscii(std::string_view s);

// str.isspace() for one code point.
bool IsPyWhitespace(char32_t cp);
// Cased letters and their simple mappings; ToUpperFull handles ß -> "SS".
bool IsCased(char32_t cp);
bool IsUpperCp(char32_t cp);
bool IsLowerCp(char32_t cp);
char32_t ToLowerCp(char32_t cp);
char32_t ToUpperCp(char32_t cp);
void AppendUpperFull(std::string& out, char32_t cp);
// Title case: ǆ -> ǅ, ß -> "Ss", else upper case.
void AppendTitleFull(std::string& out, char32_t cp);
void AppendLowerFull(std::string& out, char32_t cp);  // İ -> "i\u0307"
bool IsAlphaCp(char32_t cp);
bool IsDigitCp(char32_t cp);

}  // namespace jinja
