// The expression half of the template parser (internal to the engine): a token cursor with jinja2's expression
// grammar — conditional expressions, or/and/not, comparisons, arithmetic, `~`, filters and tests, calls,
// subscripts, slices and literals. parser.cc derives the statement parser from it. Not thread-safe: one per parse.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/template/jinja/ast.h"
#include "services/template/jinja/lexer.h"

namespace jinja {

// How a token reads in an error message ("end of print statement", "'|'").
std::string Describe(const Token& t);

class ExpressionParser {
 public:
  ExpressionParser(std::vector<Token> tokens, int max_depth) : toks_(std::move(tokens)), max_depth_(max_depth) {}

 protected:
  using T = Token::Type;

  const Token& Cur() const { return toks_[pos_]; }
  const Token& Peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  bool IsOp(const char* op) const { return Cur().type == T::kOp && Cur().text == op; }
  bool IsName(const char* n) const { return Cur().type == T::kName && Cur().text == n; }
  absl::Status ErrorAt(const Token& t, std::string_view what) const;
  absl::Status Unexpected(std::string_view expected) const;
  absl::Status ExpectOp(const char* op);
  absl::Status ExpectBlockEnd();
  absl::StatusOr<std::string> ExpectName();
  absl::Status Enter();
  ExprPtr NewExpr(Expr::Kind kind, const Token& at);

  bool IsTupleEnd(std::initializer_list<const char*> extra) const;
  // A comma-separated tuple, or the single expression when there is no comma. `with_condexpr` false leaves a
  // trailing `if` to the caller (a for loop's filter).
  absl::StatusOr<ExprPtr> ParseTuple(bool explicit_parens, bool with_condexpr,
                                     std::initializer_list<const char*> extra_end);
  absl::StatusOr<ExprPtr> ParseExpression(bool with_condexpr);
  absl::StatusOr<ExprPtr> ParseCondExpr();
  absl::StatusOr<ExprPtr> Binary(Expr::Kind kind, const Token& at, ExprPtr a, ExprPtr b);
  absl::StatusOr<ExprPtr> ParseOr();
  absl::StatusOr<ExprPtr> ParseAnd();
  absl::StatusOr<ExprPtr> ParseNot();
  absl::StatusOr<ExprPtr> ParseCompare();
  absl::StatusOr<ExprPtr> BinOpExpr(const Token& at, BinOp op, ExprPtr a, ExprPtr b);
  absl::StatusOr<ExprPtr> ParseMath1();
  absl::StatusOr<ExprPtr> ParseConcat();
  absl::StatusOr<ExprPtr> ParseMath2();
  absl::StatusOr<ExprPtr> ParsePow();
  absl::StatusOr<ExprPtr> ParseUnary(bool with_filter);
  absl::StatusOr<ExprPtr> ParsePrimary();
  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr node);
  absl::StatusOr<ExprPtr> ParseSubscript(ExprPtr obj, const Token& at);
  absl::StatusOr<ExprPtr> ParseCall(ExprPtr subject, Expr::Kind kind, const Token& at);
  absl::StatusOr<ExprPtr> ParseArgs(ExprPtr e);
  absl::StatusOr<ExprPtr> ParseFilter(ExprPtr subject);
  absl::StatusOr<ExprPtr> ParseFilterExpr(ExprPtr node);
  absl::StatusOr<ExprPtr> ParseTest(ExprPtr subject);

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int max_depth_;
  int depth_ = 0;  // nesting of blocks and expressions being parsed
};

}  // namespace jinja
