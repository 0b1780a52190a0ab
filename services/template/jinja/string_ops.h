// Python str operations on PStrings, keeping each character's provenance: a character copied from the input
// keeps its trust, inserted text keeps its own. Pure functions, thread-safe.
//
//   PString t = jinja::Strip(s, nullptr, true, true);          // s.strip()
//   PString u = jinja::MapCase(s, jinja::CaseMode::kTitle);    // s.title()
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "services/template/jinja/pstring.h"

namespace jinja {

// str.strip / lstrip / rstrip; `chars` null strips whitespace.
PString Strip(const PString& s, const std::string* chars, bool left, bool right);
// str.split / rsplit; `sep` null splits on whitespace runs. maxsplit < 0: no limit.
std::vector<PString> Split(const PString& s, const std::string* sep, int64_t maxsplit, bool from_right = false);
std::vector<PString> SplitLines(const PString& s, bool keepends);

enum class CaseMode { kUpper, kLower, kTitle, kCapitalize, kSwap };
PString MapCase(const PString& s, CaseMode mode);

// str.replace; count < 0 replaces all.
PString Replace(const PString& s, const PString& old, const PString& with, int64_t count);

// Code-point index of a byte offset (str.find returns code points).
int64_t CodePointIndex(const std::string& s, size_t byte_offset);

}  // namespace jinja
