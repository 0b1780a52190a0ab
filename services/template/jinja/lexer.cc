#include "services/template/jinja/lexer.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/unicode.h"

namespace jinja {
namespace {

bool IsSpaceAt(std::string_view s, size_t pos, size_t* len) {
  const char32_t c = DecodeAt(s, pos, len);
  return IsPyWhitespace(c);
}

// Python str.rstrip() on `s`.
std::string_view RStrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    size_t len;
    if (!IsSpaceAt(s, start, &len) || start + len != end) break;
    end = start;
  }
  return s.substr(0, end);
}

size_t SkipSpace(std::string_view s, size_t pos) {
  size_t len;
  while (pos < s.size() && IsSpaceAt(s, pos, &len)) pos += len;
  return pos;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {}

  absl::StatusOr<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      const size_t tag = FindTag(pos);
      if (tag == std::string::npos) {
        Emit(Token::Type::kData, src_.substr(pos), pos);
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      std::string_view text = std::string_view(src_).substr(pos, tag - pos);
      if (sign == '-') {
        text = RStrip(text);
      } else if (sign != '+' && kind != '{') {  // lstrip_blocks
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        if (l_pos > 0 || line_starting) {
          std::string_view tail = text.substr(l_pos);
          if (!tail.empty() && SkipSpace(tail, 0) == tail.size()) text = text.substr(0, l_pos);
        }
      }
      if (!text.empty()) Emit(Token::Type::kData, std::string(text), pos);
      size_t inner = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      absl::StatusOr<size_t> next = kind == '#'   ? LexComment(tag, inner)
                                    : kind == '%' ? LexBlock(tag, inner)
                                                  : LexTag(tag, inner, /*block=*/false);
      if (!next.ok()) return next.status();
      line_starting = *next > 0 && src_[*next - 1] == '\n';
      pos = *next;
    }
    tokens_.push_back({Token::Type::kEof, "", LineOf(src_.size()), ColumnOf(src_.size())});
    return std::move(tokens_);
  }

  // Newline normalisation (\r\n and \r become \n) and keep_trailing_newline=False.
  static std::string Normalize(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        out += '\n';
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        out += source[i];
      }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

 private:
  size_t FindTag(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  int LineOf(size_t pos) {
    while (line_cursor_ < pos && line_cursor_ < src_.size()) {
      if (src_[line_cursor_] == '\n') {
        ++line_;
        line_start_ = line_cursor_ + 1;
      }
      ++line_cursor_;
    }
    return line_;
  }
  int ColumnOf(size_t pos) {
    LineOf(pos);
    return static_cast<int>(pos - line_start_) + 1;
  }
  void Emit(Token::Type type, std::string text, size_t pos) {
    const int line = LineOf(pos);
    tokens_.push_back({type, std::move(text), line, ColumnOf(pos)});
  }
  absl::Status ErrorAt(size_t pos, std::string_view what) {
    const int line = LineOf(pos);
    return absl::InvalidArgumentError(
        absl::StrCat("template syntax error: line ", line, ", column ", ColumnOf(pos), ": ", Sv(what)));
  }

  // After a closing `%}` / `#}`: `-` strips all following whitespace, `+` keeps it, else trim_blocks removes one
  // newline. Returns the position after the tag.
  size_t AfterBlockEnd(size_t end_start, char sign) const {
    size_t p = end_start + 2;
    if (sign == '-') return SkipSpace(src_, p);
    if (sign == '+') return p;
    if (p < src_.size() && src_[p] == '\n') ++p;
    return p;
  }

  absl::StatusOr<size_t> LexComment(size_t tag, size_t inner) {
    const size_t end = src_.find("#}", inner);
    if (end == std::string::npos) return ErrorAt(tag, "missing end of comment tag");
    const char sign = end > inner ? src_[end - 1] : '\0';
    return AfterBlockEnd(end, sign == '-' || sign == '+' ? sign : '\0');
  }

  absl::StatusOr<size_t> LexBlock(size_t tag, size_t inner) {
    // {% raw %}...{% endraw %}: the body is data, verbatim.
    size_t p = SkipSpace(src_, inner);
    if (src_.compare(p, 3, "raw") == 0) {
      size_t q = SkipSpace(src_, p + 3);
      char sign = '\0';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      if (src_.compare(q, 2, "%}") == 0) return LexRaw(tag, AfterBlockEnd(q, sign));
    }
    return LexTag(tag, inner, /*block=*/true);
  }

  absl::StatusOr<size_t> LexRaw(size_t tag, size_t body) {
    for (size_t i = src_.find("{%", body); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t q = i + 2;
      const char open_sign = q < src_.size() && (src_[q] == '-' || src_[q] == '+') ? src_[q++] : '\0';
      q = SkipSpace(src_, q);
      if (src_.compare(q, 6, "endraw") != 0) continue;
      q = SkipSpace(src_, q + 6);
      char sign = '\0';
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) continue;
      std::string_view text = std::string_view(src_).substr(body, i - body);
      if (open_sign == '-') text = RStrip(text);
      if (!text.empty()) Emit(Token::Type::kData, std::string(text), body);
      return AfterBlockEnd(q, sign);
    }
    return ErrorAt(tag, "missing end of raw directive");
  }

  // Expression tokens up to the closing `}}` or `%}` (only when brackets are balanced, as jinja2 does).
  absl::StatusOr<size_t> LexTag(size_t tag, size_t pos, bool block) {
    Emit(block ? Token::Type::kBlockBegin : Token::Type::kVarBegin, "", tag);
    const char close = block ? '%' : '}';
    std::string balance;
    while (true) {
      pos = SkipSpace(src_, pos);
      if (pos >= src_.size())
        return ErrorAt(
            tag, block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
      if (balance.empty()) {
        if (src_[pos] == '-' && src_.compare(pos + 1, 2, std::string{close, '}'}) == 0) {
          Emit(block ? Token::Type::kBlockEnd : Token::Type::kVarEnd, "", pos);
          return block ? AfterBlockEnd(pos + 1, '-') : SkipSpace(src_, pos + 3);
        }
        if (block && src_[pos] == '+' && src_.compare(pos + 1, 2, "%}") == 0) {
          Emit(Token::Type::kBlockEnd, "", pos);
          return pos + 3;
        }
        if (src_.compare(pos, 2, std::string{close, '}'}) == 0) {
          Emit(block ? Token::Type::kBlockEnd : Token::Type::kVarEnd, "", pos);
          return block ? AfterBlockEnd(pos, '\0') : pos + 2;
        }
      }
      const char c = src_[pos];
      if (c == '\'' || c == '"') {
        auto end = LexString(pos);
        if (!end.ok()) return end.status();
        pos = *end;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        pos = LexNumber(pos);
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80) {
        size_t e = pos;
        while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_' ||
                                   static_cast<unsigned char>(src_[e]) >= 0x80))
          ++e;
        Emit(Token::Type::kName, src_.substr(pos, e - pos), pos);
        pos = e;
      } else {
        static const char* const kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                           "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};
        const char* op = nullptr;
        for (const char* o : kOps) {
          if (src_.compare(pos, std::strlen(o), o) == 0) {
            op = o;
            break;
          }
        }
        if (op == nullptr) return ErrorAt(pos, absl::StrCat("unexpected char '", std::string(1, c), "'"));
        if (c == '(' || c == '[' || c == '{') {
          balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
          if (balance.empty()) return ErrorAt(pos, absl::StrCat("unexpected '", std::string(1, c), "'"));
          if (balance.back() != c)
            return ErrorAt(pos, absl::StrCat("unexpected '", std::string(1, c), "', expected '",
                                             std::string(1, balance.back()), "'"));
          balance.pop_back();
        }
        Emit(Token::Type::kOp, op, pos);
        pos += std::strlen(op);
      }
    }
  }

  size_t LexNumber(size_t pos) {
    size_t e = pos;
    auto digits = [&](auto pred) {
      while (e < src_.size() && (pred(src_[e]) || (src_[e] == '_' && e + 1 < src_.size() && pred(src_[e + 1])))) ++e;
    };
    auto dec = [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) != 0; };
    std::string text;
    if (src_[pos] == '0' && e + 1 < src_.size() && std::strchr("xXoObB", src_[pos + 1]) && src_[pos + 1] != '\0') {
      const char base = static_cast<char>(std::tolower(src_[pos + 1]));
      e = pos + 2;
      auto pred = [base](char ch) {
        return base == 'x'   ? std::isxdigit(static_cast<unsigned char>(ch)) != 0
               : base == 'o' ? (ch >= '0' && ch <= '7')
                             : (ch == '0' || ch == '1');
      };
      digits(pred);
      for (size_t i = pos; i < e; ++i)
        if (src_[i] != '_') text += src_[i];
      Emit(Token::Type::kInt, text, pos);
      return e;
    }
    digits(dec);
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' && dec(src_[e + 1])) {
      is_float = true;
      ++e;
      digits(dec);
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t f = e + 1;
      if (f < src_.size() && (src_[f] == '+' || src_[f] == '-')) ++f;
      if (f < src_.size() && dec(src_[f])) {
        is_float = true;
        e = f;
        digits(dec);
      }
    }
    for (size_t i = pos; i < e; ++i)
      if (src_[i] != '_') text += src_[i];
    Emit(is_float ? Token::Type::kFloat : Token::Type::kInt, text, pos);
    return e;
  }

  // A quoted literal with Python's escapes.
  absl::StatusOr<size_t> LexString(size_t pos) {
    const char quote = src_[pos];
    std::string out;
    size_t i = pos + 1;
    while (true) {
      if (i >= src_.size()) return ErrorAt(pos, "unterminated string");
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) return ErrorAt(pos, "unterminated string");
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case 'a':
          out += '\a';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case '\n':
          break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          char32_t cp = 0;
          for (size_t k = 0; k < n; ++k, ++i) {
            if (i >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[i])))
              return ErrorAt(i, "truncated \\x, \\u or \\U escape");
            cp = cp * 16 + static_cast<char32_t>(std::stoi(std::string(1, src_[i]), nullptr, 16));
          }
          if (cp > 0x10FFFF) return ErrorAt(i, "illegal Unicode character in escape");
          AppendUtf8(out, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t cp = e - '0';
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k, ++i)
              cp = cp * 8 + (src_[i] - '0');
            AppendUtf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    Emit(Token::Type::kString, std::move(out), pos);
    return i + 1;
  }

  std::string src_;
  std::vector<Token> tokens_;
  size_t line_cursor_ = 0, line_start_ = 0;
  int line_ = 1;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Lex(std::string_view source) {
  Lexer lexer(Lexer::Normalize(source));
  return lexer.Run();
}

}  // namespace jinja
