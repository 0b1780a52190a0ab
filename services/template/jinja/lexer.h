// The template lexer: source text to tokens, with jinja2's whitespace rules as transformers configures them
// (trim_blocks, lstrip_blocks, keep_trailing_newline=False; `{%-`/`-%}` strip, `{%+`/`+%}` keep). Comments and
// raw blocks are resolved here. Pure function, thread-safe.
//
//   ASSIGN_OR_RETURN(std::vector<Token> tokens, jinja::Lex(source));
//
// Errors are INVALID_ARGUMENT naming line and column ("line 3, column 7: unterminated string").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace jinja {

struct Token {
  enum class Type { kData, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };
  Type type;
  std::string text;  // data text, name, unescaped string literal, number spelling without '_', or operator
  int line = 1;
  int column = 1;
};

absl::StatusOr<std::vector<Token>> Lex(std::string_view source);

}  // namespace jinja
