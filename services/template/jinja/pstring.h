// PString: a string whose every byte knows its provenance — the template's own text (trusted) or data from the
// request (untrusted). The engine builds every string value and the rendered output as a PString, so the output
// can be cut into segments and only template text may later become control tokens.
//
//   PString s("[INST] ", /*trusted=*/true);
//   s.Append(PString(user_text, /*trusted=*/false));
//   for (const Segment& seg : s.Segments()) ...          // {"[INST] ", true}, {user_text, false}
//
// A plain value type; not thread-safe for concurrent mutation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace jinja {

struct Segment {
  std::string text;
  bool trusted = false;
  friend bool operator==(const Segment& a, const Segment& b) { return a.text == b.text && a.trusted == b.trusted; }
};

class PString {
 public:
  PString() = default;
  PString(std::string text, bool trusted);

  const std::string& text() const { return text_; }
  size_t size() const { return text_.size(); }
  bool empty() const { return text_.empty(); }

  void Append(const PString& other);
  void Append(std::string_view text, bool trusted);
  // Bytes [pos, pos + len) with their provenance.
  PString Substr(size_t pos, size_t len) const;
  bool TrustedAt(size_t byte) const;
  bool AllTrusted() const;
  // Maximal runs of equal provenance; empty runs are omitted.
  std::vector<Segment> Segments() const;

 private:
  struct Run {
    size_t end;  // the run covers [previous run's end, end)
    bool trusted;
  };
  std::string text_;
  std::vector<Run> runs_;  // adjacent runs differ in provenance
};

}  // namespace jinja
