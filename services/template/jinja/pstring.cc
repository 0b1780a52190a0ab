#include "services/template/jinja/pstring.h"

#include <algorithm>

namespace jinja {

PString::PString(std::string text, bool trusted) : text_(std::move(text)) {
  if (!text_.empty()) runs_.push_back({text_.size(), trusted});
}

void PString::Append(std::string_view text, bool trusted) {
  if (text.empty()) return;
  text_.append(text);
  if (!runs_.empty() && runs_.back().trusted == trusted) {
    runs_.back().end = text_.size();
  } else {
    runs_.push_back({text_.size(), trusted});
  }
}

void PString::Append(const PString& other) {
  size_t begin = 0;
  for (const Run& r : other.runs_) {
    Append(std::string_view(other.text_).substr(begin, r.end - begin), r.trusted);
    begin = r.end;
  }
}

PString PString::Substr(size_t pos, size_t len) const {
  PString out;
  if (pos >= text_.size()) return out;
  const size_t end = std::min(text_.size(), pos + len);
  size_t begin = 0;
  for (const Run& r : runs_) {
    const size_t a = std::max(begin, pos), b = std::min(r.end, end);
    if (a < b) out.Append(std::string_view(text_).substr(a, b - a), r.trusted);
    begin = r.end;
    if (begin >= end) break;
  }
  return out;
}

bool PString::TrustedAt(size_t byte) const {
  for (const Run& r : runs_)
    if (byte < r.end) return r.trusted;
  return false;
}

bool PString::AllTrusted() const {
  for (const Run& r : runs_)
    if (!r.trusted) return false;
  return true;
}

std::vector<Segment> PString::Segments() const {
  std::vector<Segment> out;
  out.reserve(runs_.size());
  size_t begin = 0;
  for (const Run& r : runs_) {
    out.push_back({text_.substr(begin, r.end - begin), r.trusted});
    begin = r.end;
  }
  return out;
}

}  // namespace jinja
