#include "services/template/jinja/unicode.h"

namespace jinja {

char32_t DecodeAt(std::string_view s, size_t pos, size_t* len) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || pos + n > s.size()) {
    *len = 1;
    return c;
  }
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (int i = 1; i < n; ++i) {
    const unsigned char cc = static_cast<unsigned char>(s[pos + i]);
    if ((cc & 0xC0) != 0x80) {
      *len = 1;
      return c;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  *len = n;
  return cp;
}

size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0, len = 0; i < s.size(); i += len, ++n) DecodeAt(s, i, &len);
  return n;
}

size_t ByteOffsetOfCodePoint(std::string_view s, size_t index) {
  size_t i = 0, len = 0;
  for (size_t k = 0; k < index && i < s.size(); ++k, i += len) DecodeAt(s, i, &len);
  return i;
}

bool IsAscii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

bool IsPyWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

namespace {

// Simple case mappings as ranges. kOffset: [first, last] are upper case and map to lower case at +delta.
// kEvenUpper / kOddUpper: alternating pairs, the upper case at even (odd) code points, its lower case right after.
struct CaseRange {
  enum Kind { kOffset, kEvenUpper, kOddUpper } kind;
  char32_t first, last;
  int delta;
};

constexpr CaseRange kCaseRanges[] = {
    {CaseRange::kOffset, 0xC0, 0xD6, 32},       {CaseRange::kOffset, 0xD8, 0xDE, 32},      // Latin-1
    {CaseRange::kEvenUpper, 0x100, 0x12F, 1},   {CaseRange::kEvenUpper, 0x132, 0x137, 1},  // Latin Extended-A
    {CaseRange::kOddUpper, 0x139, 0x148, 1},    {CaseRange::kEvenUpper, 0x14A, 0x177, 1},
    {CaseRange::kOddUpper, 0x179, 0x17E, 1},    {CaseRange::kEvenUpper, 0x1A0, 0x1A5, 1},  // Latin Extended-B
    {CaseRange::kOddUpper, 0x1AF, 0x1B0, 1},    {CaseRange::kOddUpper, 0x1CD, 0x1DC, 1},
    {CaseRange::kEvenUpper, 0x1DE, 0x1EF, 1},   {CaseRange::kEvenUpper, 0x1F8, 0x21F, 1},
    {CaseRange::kEvenUpper, 0x222, 0x233, 1},   {CaseRange::kOffset, 0x386, 0x386, 38},  // Greek
    {CaseRange::kOffset, 0x388, 0x38A, 37},     {CaseRange::kOffset, 0x38C, 0x38C, 64},
    {CaseRange::kOffset, 0x38E, 0x38F, 63},     {CaseRange::kOffset, 0x391, 0x3A1, 32},
    {CaseRange::kOffset, 0x3A3, 0x3AB, 32},     {CaseRange::kEvenUpper, 0x3D8, 0x3EF, 1},
    {CaseRange::kOffset, 0x400, 0x40F, 80},     {CaseRange::kOffset, 0x410, 0x42F, 32},  // Cyrillic
    {CaseRange::kEvenUpper, 0x460, 0x481, 1},   {CaseRange::kEvenUpper, 0x48A, 0x4BF, 1},
    {CaseRange::kOddUpper, 0x4C1, 0x4CE, 1},    {CaseRange::kEvenUpper, 0x4D0, 0x52F, 1},
    {CaseRange::kOffset, 0x531, 0x556, 48},                                                  // Armenian
    {CaseRange::kEvenUpper, 0x1E00, 0x1E95, 1}, {CaseRange::kEvenUpper, 0x1EA0, 0x1EFF, 1},  // Vietnamese etc.
    {CaseRange::kOffset, 0xFF21, 0xFF3A, 32},                                                // full-width Latin
};

// The Latin digraph triples (upper, title, lower): DŽ Dž dž, LJ Lj lj, NJ Nj nj, DZ Dz dz.
char32_t DigraphBase(char32_t c) {
  if (c >= 0x1C4 && c <= 0x1CC) return 0x1C4 + (c - 0x1C4) / 3 * 3;
  if (c >= 0x1F1 && c <= 0x1F3) return 0x1F1;
  return 0;
}

// Looks `c` up as an upper-case letter (sets *lower) or a lower-case one (sets *upper).
bool FindCase(char32_t c, char32_t* lower, char32_t* upper) {
  for (const CaseRange& r : kCaseRanges) {
    if (r.kind == CaseRange::kOffset) {
      if (c >= r.first && c <= r.last) return *lower = c + r.delta, true;
      if (c >= r.first + r.delta && c <= r.last + r.delta) return *upper = c - r.delta, true;
      continue;
    }
    if (c < r.first || c > r.last) continue;
    const bool even = c % 2 == 0;
    if (even == (r.kind == CaseRange::kEvenUpper)) {
      if (c + 1 <= r.last) return *lower = c + 1, true;
    } else if (c - 1 >= r.first) {
      return *upper = c - 1, true;
    }
  }
  return false;
}

}  // namespace

bool IsUpperCp(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  if (const char32_t base = DigraphBase(c)) return c == base;
  if (c == 0x178 || c == 0x130) return true;
  char32_t lower = 0, upper = 0;
  return FindCase(c, &lower, &upper) && lower != 0;
}

bool IsLowerCp(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  if (const char32_t base = DigraphBase(c)) return c == base + 2;
  if (c == 0xDF || c == 0xFF || c == 0xB5 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F || c == 0x3C2 ||
      c == 0x390 || c == 0x3B0)
    return true;
  char32_t lower = 0, upper = 0;
  return FindCase(c, &lower, &upper) && upper != 0;
}

bool IsCased(char32_t c) { return IsUpperCp(c) || IsLowerCp(c) || (c >= 0x1C5 && c <= 0x1CB) || c == 0x1F2; }

char32_t ToLowerCp(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (const char32_t base = DigraphBase(c)) return base + 2;
  if (c == 0x178) return 0xFF;
  char32_t lower = 0, upper = 0;
  return FindCase(c, &lower, &upper) && lower != 0 ? lower : c;
}

char32_t ToUpperCp(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if (const char32_t base = DigraphBase(c)) return base;
  switch (c) {
    case 0xFF:
      return 0x178;
    case 0xB5:
      return 0x39C;
    case 0x131:
      return 'I';
    case 0x17F:
      return 'S';
    case 0x3C2:
      return 0x3A3;
    default:
      break;
  }
  char32_t lower = 0, upper = 0;
  return FindCase(c, &lower, &upper) && upper != 0 ? upper : c;
}

void AppendTitleFull(std::string& out, char32_t cp) {
  if (cp == 0xDF) {
    out += "Ss";
    return;
  }
  if (const char32_t base = DigraphBase(cp)) {
    AppendUtf8(out, base + 1);
    return;
  }
  AppendUtf8(out, ToUpperCp(cp));
}

void AppendLowerFull(std::string& out, char32_t cp) {
  if (cp == 0x130) {  // İ lowers to i + combining dot above, as Python does
    out += "i\xcc\x87";
    return;
  }
  AppendUtf8(out, ToLowerCp(cp));
}

void AppendUpperFull(std::string& out, char32_t cp) {
  if (cp == 0xDF) {
    out += "SS";
    return;
  }
  AppendUtf8(out, ToUpperCp(cp));
}

bool IsAlphaCp(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return IsCased(c) || (c >= 0x3040 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7A3);
}

bool IsDigitCp(char32_t c) { return c >= '0' && c <= '9'; }

}  // namespace jinja
