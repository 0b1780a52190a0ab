#include "services/template/jinja/string_ops.h"

#include "services/template/jinja/unicode.h"

namespace jinja {
namespace {

bool InChars(char32_t c, const std::string* chars) {
  if (chars == nullptr) return IsPyWhitespace(c);
  for (size_t i = 0, len = 0; i < chars->size(); i += len)
    if (DecodeAt(*chars, i, &len) == c) return true;
  return false;
}

// Byte offsets of every code point, plus the end.
std::vector<size_t> Offsets(const std::string& s) {
  std::vector<size_t> out;
  out.reserve(s.size() + 1);
  for (size_t i = 0, len = 0; i < s.size(); i += len) {
    out.push_back(i);
    DecodeAt(s, i, &len);
  }
  out.push_back(s.size());
  return out;
}

}  // namespace

PString Strip(const PString& s, const std::string* chars, bool left, bool right) {
  const std::string& t = s.text();
  size_t begin = 0, end = t.size(), len;
  if (left)
    while (begin < end && InChars(DecodeAt(t, begin, &len), chars)) begin += len;
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(t[start]) & 0xC0) == 0x80) --start;
      if (!InChars(DecodeAt(t, start, &len), chars) || start + len != end) break;
      end = start;
    }
  }
  if (begin == 0 && end == t.size()) return s;
  return s.Substr(begin, end - begin);
}

std::vector<PString> Split(const PString& s, const std::string* sep, int64_t maxsplit, bool from_right) {
  const std::string& t = s.text();
  std::vector<PString> out;
  if (sep != nullptr) {
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        const size_t hit = t.find(*sep, pos);
        if (hit == std::string::npos) break;
        out.push_back(s.Substr(pos, hit - pos));
        pos = hit + sep->size();
      }
      out.push_back(s.Substr(pos, t.size() - pos));
      return out;
    }
    size_t end = t.size();
    int64_t splits = 0;
    while (maxsplit < 0 || splits < maxsplit) {
      if (end < sep->size()) break;
      const size_t hit = t.rfind(*sep, end - sep->size());
      if (hit == std::string::npos) break;
      out.insert(out.begin(), s.Substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
      ++splits;
      if (end == 0 && sep->empty()) break;
    }
    out.insert(out.begin(), s.Substr(0, end));
    return out;
  }
  // Whitespace runs.
  std::vector<std::pair<size_t, size_t>> words;
  size_t i = 0, len;
  while (i < t.size()) {
    while (i < t.size() && IsPyWhitespace(DecodeAt(t, i, &len))) i += len;
    if (i >= t.size()) break;
    size_t j = i;
    while (j < t.size() && !IsPyWhitespace(DecodeAt(t, j, &len))) j += len;
    words.emplace_back(i, j);
    i = j;
  }
  if (maxsplit < 0 || static_cast<int64_t>(words.size()) <= maxsplit + 1) {
    for (auto [a, b] : words) out.push_back(s.Substr(a, b - a));
    return out;
  }
  if (!from_right) {
    for (int64_t k = 0; k < maxsplit; ++k) out.push_back(s.Substr(words[k].first, words[k].second - words[k].first));
    out.push_back(s.Substr(words[maxsplit].first, t.size() - words[maxsplit].first));
    return out;
  }
  const size_t keep = words.size() - maxsplit;
  out.push_back(s.Substr(0, words[keep - 1].second));
  for (size_t k = keep; k < words.size(); ++k)
    out.push_back(s.Substr(words[k].first, words[k].second - words[k].first));
  return out;
}

std::vector<PString> SplitLines(const PString& s, bool keepends) {
  const std::string& t = s.text();
  std::vector<PString> out;
  size_t start = 0, i = 0, len;
  while (i < t.size()) {
    const char32_t c = DecodeAt(t, i, &len);
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                     c == 0x2028 || c == 0x2029;
    if (!brk) {
      i += len;
      continue;
    }
    size_t eol = i + len;
    if (c == '\r' && eol < t.size() && t[eol] == '\n') ++eol;
    out.push_back(s.Substr(start, (keepends ? eol : i) - start));
    start = i = eol;
  }
  if (start < t.size()) out.push_back(s.Substr(start, t.size() - start));
  return out;
}

PString MapCase(const PString& s, CaseMode mode) {
  PString out;
  bool prev_cased = false;
  bool first = true;
  for (const Segment& seg : s.Segments()) {
    std::string mapped;
    mapped.reserve(seg.text.size());
    for (size_t i = 0, len = 0; i < seg.text.size(); i += len) {
      const char32_t c = DecodeAt(seg.text, i, &len);
      bool upper = false;
      switch (mode) {
        case CaseMode::kUpper:
          upper = true;
          break;
        case CaseMode::kLower:
          upper = false;
          break;
        case CaseMode::kTitle:
          upper = !prev_cased;
          break;
        case CaseMode::kCapitalize:
          upper = first;
          break;
        case CaseMode::kSwap:
          upper = IsLowerCp(c);
          break;
      }
      if (mode == CaseMode::kSwap && !IsUpperCp(c) && !IsLowerCp(c))
        mapped.append(seg.text, i, len);
      else if (upper && (mode == CaseMode::kTitle || mode == CaseMode::kCapitalize))
        AppendTitleFull(mapped, c);
      else if (upper)
        AppendUpperFull(mapped, c);
      else
        AppendLowerFull(mapped, c);
      prev_cased = IsCased(c);
      first = false;
    }
    out.Append(mapped, seg.trusted);
  }
  return out;
}

PString Replace(const PString& s, const PString& old, const PString& with, int64_t count) {
  const std::string& t = s.text();
  PString out;
  int64_t done = 0;
  if (old.empty()) {
    const std::vector<size_t> offs = Offsets(t);
    for (size_t k = 0; k + 1 < offs.size(); ++k) {
      if (count < 0 || done < count) {
        out.Append(with);
        ++done;
      }
      out.Append(s.Substr(offs[k], offs[k + 1] - offs[k]));
    }
    if (count < 0 || done < count) out.Append(with);
    return out;
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    const size_t hit = t.find(old.text(), pos);
    if (hit == std::string::npos) break;
    out.Append(s.Substr(pos, hit - pos));
    out.Append(with);
    pos = hit + old.size();
    ++done;
  }
  out.Append(s.Substr(pos, t.size() - pos));
  return out;
}

int64_t CodePointIndex(const std::string& s, size_t byte_offset) {
  return static_cast<int64_t>(CodePointCount(std::string_view(s).substr(0, byte_offset)));
}

}  // namespace jinja
