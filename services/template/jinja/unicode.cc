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

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
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

// Latin Extended-A pairs: upper case at even code points in [0x100, 0x137] and [0x14A, 0x177], at odd code points
// in [0x139, 0x148] and [0x179, 0x17E].
static bool InLatinExtAEvenUpper(char32_t c) { return (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177); }
static bool InLatinExtAOddUpper(char32_t c) { return (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E); }

// The Latin digraph triples (upper, title, lower): DŽ Dž dž, LJ Lj lj, NJ Nj nj, DZ Dz dz.
static char32_t DigraphBase(char32_t c) {
  if (c >= 0x1C4 && c <= 0x1CC) return 0x1C4 + (c - 0x1C4) / 3 * 3;
  if (c >= 0x1F1 && c <= 0x1F3) return 0x1F1;
  return 0;
}

bool IsUpperCp(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  if (const char32_t base = DigraphBase(c)) return c == base;
  if (c >= 0xC0 && c <= 0xDE) return c != 0xD7;
  if (InLatinExtAEvenUpper(c)) return c % 2 == 0;
  if (InLatinExtAOddUpper(c)) return c % 2 == 1;
  if (c == 0x178) return true;
  if (c >= 0x391 && c <= 0x3A9) return c != 0x3A2;
  if (c >= 0x400 && c <= 0x42F) return true;
  return false;
}

bool IsLowerCp(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z';
  if (const char32_t base = DigraphBase(c)) return c == base + 2;
  if (c >= 0xDF && c <= 0xFF) return c != 0xF7;
  if (c == 0xB5) return true;
  if (InLatinExtAEvenUpper(c)) return c % 2 == 1;
  if (InLatinExtAOddUpper(c)) return c % 2 == 0;
  if (c == 0x138 || c == 0x149 || c == 0x17F) return true;
  if (c >= 0x3AC && c <= 0x3CE) return true;
  if (c >= 0x430 && c <= 0x45F) return true;
  return false;
}

bool IsCased(char32_t c) { return IsUpperCp(c) || IsLowerCp(c); }

char32_t ToLowerCp(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (const char32_t base = DigraphBase(c)) return base + 2;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
  if (InLatinExtAEvenUpper(c) && c % 2 == 0) return c + 1;
  if (InLatinExtAOddUpper(c) && c % 2 == 1) return c + 1;
  if (c == 0x130) return 'i';
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  return c;
}

char32_t ToUpperCp(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  if (const char32_t base = DigraphBase(c)) return base;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (InLatinExtAEvenUpper(c) && c % 2 == 1) return c - 1;
  if (InLatinExtAOddUpper(c) && c % 2 == 0) return c - 1;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 0x20;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  return c;
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
