#include "services/template/jinja/expression_parser.h"

#include <charconv>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/parser.h"

namespace jinja {
namespace {
using T = Token::Type;
}  // namespace

std::string Describe(const Token& t) {
  switch (t.type) {
    case T::kData:
      return "template data";
    case T::kVarBegin:
      return "begin of print statement";
    case T::kVarEnd:
      return "end of print statement";
    case T::kBlockBegin:
      return "begin of statement block";
    case T::kBlockEnd:
      return "end of statement block";
    case T::kEof:
      return "end of template";
    case T::kString:
      return "string";
    case T::kInt:
    case T::kFloat:
      return absl::StrCat("number ", t.text);
    default:
      return absl::StrCat("'", t.text, "'");
  }
}

absl::Status ExpressionParser::ErrorAt(const Token& t, std::string_view what) const {
  return absl::InvalidArgumentError(
      absl::StrCat("template syntax error: line ", t.line, ", column ", t.column, ": ", Sv(what)));
}

absl::Status ExpressionParser::Unexpected(std::string_view expected) const {
  return ErrorAt(Cur(), absl::StrCat("Sv(expected) ", Sv(expected), ", got ", Describe(Cur())));
}

absl::Status ExpressionParser::ExpectOp(const char* op) {
  if (!IsOp(op)) return Unexpected(absl::StrCat("'", op, "'"));
  ++pos_;
  return absl::OkStatus();
}

absl::Status ExpressionParser::ExpectBlockEnd() {
  if (Cur().type != T::kBlockEnd) return Unexpected("end of statement block");
  ++pos_;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ExpressionParser::ExpectName() {
  if (Cur().type != T::kName) return Unexpected("a name");
  return toks_[pos_++].text;
}

absl::Status ExpressionParser::Enter() {
  if (++depth_ > max_depth_)
    return ErrorAt(Cur(), absl::StrCat("nesting deeper than the limit of ", max_depth_, " levels"));
  return absl::OkStatus();
}

ExprPtr ExpressionParser::NewExpr(Expr::Kind kind, const Token& at) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = at.line;
  e->column = at.column;
  return e;
}

bool ExpressionParser::IsTupleEnd(std::initializer_list<const char*> extra) const {
  const Token& t = Cur();
  if (t.type == T::kVarEnd || t.type == T::kBlockEnd || t.type == T::kEof) return true;
  if (t.type == T::kOp && t.text == ")") return true;
  if (t.type == T::kName)
    for (const char* e : extra)
      if (t.text == e) return true;
  return false;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseTuple(bool explicit_parens, bool with_condexpr,
                                                     std::initializer_list<const char*> extra_end) {
  const Token& at = Cur();
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) RETURN_IF_ERROR(ExpectOp(","));
    if (IsTupleEnd(extra_end) || (with_condexpr == false && IsName("if"))) break;
    ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(with_condexpr));
    items.push_back(std::move(e));
    if (IsOp(","))
      is_tuple = true;
    else
      break;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) return Unexpected("an expression");
  }
  auto t = NewExpr(Expr::Kind::kTuple, at);
  t->kids = std::move(items);
  return t;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseExpression(bool with_condexpr) {
  RETURN_IF_ERROR(Enter());
  absl::StatusOr<ExprPtr> e = with_condexpr ? ParseCondExpr() : ParseOr();
  --depth_;
  return e;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseCondExpr() {
  ASSIGN_OR_RETURN(ExprPtr expr, ParseOr());
  while (IsName("if")) {
    const Token& at = Cur();
    ++pos_;
    auto c = NewExpr(Expr::Kind::kCond, at);
    ASSIGN_OR_RETURN(ExprPtr cond, ParseOr());
    ExprPtr otherwise;
    if (IsName("else")) {
      ++pos_;
      ASSIGN_OR_RETURN(otherwise, ParseExpression(true));
    }
    c->kids.push_back(std::move(cond));
    c->kids.push_back(std::move(expr));
    c->kids.push_back(std::move(otherwise));
    expr = std::move(c);
  }
  return expr;
}

absl::StatusOr<ExprPtr> ExpressionParser::Binary(Expr::Kind kind, const Token& at, ExprPtr a, ExprPtr b) {
  auto e = NewExpr(kind, at);
  e->kids.push_back(std::move(a));
  e->kids.push_back(std::move(b));
  return e;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseOr() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
  while (IsName("or")) {
    const Token& at = Cur();
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
    ASSIGN_OR_RETURN(left, Binary(Expr::Kind::kOr, at, std::move(left), std::move(right)));
  }
  return left;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseAnd() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
  while (IsName("and")) {
    const Token& at = Cur();
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
    ASSIGN_OR_RETURN(left, Binary(Expr::Kind::kAnd, at, std::move(left), std::move(right)));
  }
  return left;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseNot() {
  if (IsName("not")) {
    const Token& at = Cur();
    ++pos_;
    RETURN_IF_ERROR(Enter());
    ASSIGN_OR_RETURN(ExprPtr x, ParseNot());
    --depth_;
    auto e = NewExpr(Expr::Kind::kNot, at);
    e->kids.push_back(std::move(x));
    return e;
  }
  return ParseCompare();
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseCompare() {
  const Token& at = Cur();
  ASSIGN_OR_RETURN(ExprPtr first, ParseMath1());
  ExprPtr cmp;
  while (true) {
    CmpOp op;
    const Token& t = Cur();
    if (t.type == T::kOp && t.text == "==")
      op = CmpOp::kEq;
    else if (t.type == T::kOp && t.text == "!=")
      op = CmpOp::kNe;
    else if (t.type == T::kOp && t.text == "<")
      op = CmpOp::kLt;
    else if (t.type == T::kOp && t.text == "<=")
      op = CmpOp::kLe;
    else if (t.type == T::kOp && t.text == ">")
      op = CmpOp::kGt;
    else if (t.type == T::kOp && t.text == ">=")
      op = CmpOp::kGe;
    else if (IsName("in"))
      op = CmpOp::kIn;
    else if (IsName("not") && Peek().type == T::kName && Peek().text == "in") {
      op = CmpOp::kNotIn;
      ++pos_;
    } else
      break;
    ++pos_;
    if (!cmp) {
      cmp = NewExpr(Expr::Kind::kCompare, at);
      cmp->kids.push_back(std::move(first));
    }
    ASSIGN_OR_RETURN(ExprPtr operand, ParseMath1());
    cmp->kids.push_back(std::move(operand));
    cmp->cmp_ops.push_back(op);
  }
  return cmp ? std::move(cmp) : std::move(first);
}

absl::StatusOr<ExprPtr> ExpressionParser::BinOpExpr(const Token& at, BinOp op, ExprPtr a, ExprPtr b) {
  auto e = NewExpr(Expr::Kind::kBinary, at);
  e->bin_op = op;
  e->kids.push_back(std::move(a));
  e->kids.push_back(std::move(b));
  return e;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseMath1() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
  while (IsOp("+") || IsOp("-")) {
    const Token& at = Cur();
    const BinOp op = at.text == "+" ? BinOp::kAdd : BinOp::kSub;
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
    ASSIGN_OR_RETURN(left, BinOpExpr(at, op, std::move(left), std::move(right)));
  }
  return left;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseConcat() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseMath2());
  while (IsOp("~")) {
    const Token& at = Cur();
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr right, ParseMath2());
    ASSIGN_OR_RETURN(left, BinOpExpr(at, BinOp::kConcat, std::move(left), std::move(right)));
  }
  return left;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseMath2() {
  ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
  while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
    const Token& at = Cur();
    const BinOp op = at.text == "*"    ? BinOp::kMul
                     : at.text == "/"  ? BinOp::kDiv
                     : at.text == "//" ? BinOp::kFloorDiv
                                       : BinOp::kMod;
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
    ASSIGN_OR_RETURN(left, BinOpExpr(at, op, std::move(left), std::move(right)));
  }
  return left;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParsePow() {
  ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
  while (IsOp("**")) {
    const Token& at = Cur();
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
    ASSIGN_OR_RETURN(left, BinOpExpr(at, BinOp::kPow, std::move(left), std::move(right)));
  }
  return left;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseUnary(bool with_filter) {
  RETURN_IF_ERROR(Enter());
  ExprPtr node;
  if (IsOp("-") || IsOp("+")) {
    const Token& at = Cur();
    ++pos_;
    node = NewExpr(at.text == "-" ? Expr::Kind::kNeg : Expr::Kind::kPos, at);
    ASSIGN_OR_RETURN(ExprPtr x, ParseUnary(false));
    node->kids.push_back(std::move(x));
  } else {
    ASSIGN_OR_RETURN(node, ParsePrimary());
  }
  ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
  if (with_filter) {
    ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
  }
  --depth_;
  return node;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParsePrimary() {
  const Token& t = Cur();
  if (t.type == T::kName) {
    ++pos_;
    auto e = NewExpr(Expr::Kind::kLiteral, t);
    if (t.text == "true" || t.text == "True")
      e->literal = Value::Bool(true);
    else if (t.text == "false" || t.text == "False")
      e->literal = Value::Bool(false);
    else if (t.text == "none" || t.text == "None")
      e->literal = Value::None();
    else {
      e->kind = Expr::Kind::kName;
      e->name = t.text;
    }
    return e;
  }
  if (t.type == T::kString) {
    std::string s;
    while (Cur().type == T::kString) s += toks_[pos_++].text;
    auto e = NewExpr(Expr::Kind::kLiteral, t);
    e->literal = Value::String(std::move(s), /*trusted=*/true);
    return e;
  }
  if (t.type == T::kInt || t.type == T::kFloat) {
    ++pos_;
    auto e = NewExpr(Expr::Kind::kLiteral, t);
    if (t.type == T::kFloat) {
      e->literal = Value::Float(std::strtod(t.text.c_str(), nullptr));
    } else {
      int base = 10;
      std::string_view digits = t.text;
      if (digits.size() > 2 && digits[0] == '0' && std::isalpha(static_cast<unsigned char>(digits[1]))) {
        const char b = static_cast<char>(std::tolower(digits[1]));
        base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
        digits.remove_prefix(2);
      }
      int64_t v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
      if (ec != std::errc()) return ErrorAt(t, "integer literal out of range");
      e->literal = Value::Int(v);
    }
    return e;
  }
  if (IsOp("(")) {
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr e, ParseTuple(true, true, {}));
    RETURN_IF_ERROR(ExpectOp(")"));
    return e;
  }
  if (IsOp("[")) {
    auto e = NewExpr(Expr::Kind::kList, t);
    ++pos_;
    while (!IsOp("]")) {
      if (!e->kids.empty()) RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp("]")) break;
      ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(true));
      e->kids.push_back(std::move(item));
    }
    ++pos_;
    return e;
  }
  if (IsOp("{")) {
    auto e = NewExpr(Expr::Kind::kDict, t);
    ++pos_;
    while (!IsOp("}")) {
      if (!e->kids.empty()) RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp("}")) break;
      ASSIGN_OR_RETURN(ExprPtr key, ParseExpression(true));
      RETURN_IF_ERROR(ExpectOp(":"));
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
      e->kids.push_back(std::move(key));
      e->kids.push_back(std::move(value));
    }
    ++pos_;
    return e;
  }
  return ErrorAt(t, absl::StrCat("unexpected ", Describe(t)));
}

absl::StatusOr<ExprPtr> ExpressionParser::ParsePostfix(ExprPtr node) {
  while (true) {
    const Token& at = Cur();
    if (IsOp(".")) {
      ++pos_;
      if (Cur().type == T::kName) {
        auto e = NewExpr(Expr::Kind::kGetattr, at);
        e->name = toks_[pos_++].text;
        e->kids.push_back(std::move(node));
        node = std::move(e);
      } else if (Cur().type == T::kInt) {
        auto e = NewExpr(Expr::Kind::kGetitem, at);
        auto idx = NewExpr(Expr::Kind::kLiteral, Cur());
        idx->literal = Value::Int(std::strtoll(toks_[pos_++].text.c_str(), nullptr, 10));
        e->kids.push_back(std::move(node));
        e->kids.push_back(std::move(idx));
        node = std::move(e);
      } else {
        return Unexpected("name or number");
      }
    } else if (IsOp("[")) {
      ++pos_;
      ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node), at));
    } else if (IsOp("(")) {
      ASSIGN_OR_RETURN(node, ParseCall(std::move(node), Expr::Kind::kCall, at));
    } else {
      return node;
    }
  }
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseSubscript(ExprPtr obj, const Token& at) {
  ExprPtr parts[3];
  bool is_slice = false;
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (!IsOp(":")) break;
      ++pos_;
      is_slice = true;
    }
    if (!IsOp(":") && !IsOp("]")) {
      ASSIGN_OR_RETURN(parts[i], i == 0 ? ParseTuple(false, true, {}) : ParseExpression(true));
    }
  }
  RETURN_IF_ERROR(ExpectOp("]"));
  auto e = NewExpr(is_slice ? Expr::Kind::kSlice : Expr::Kind::kGetitem, at);
  e->kids.push_back(std::move(obj));
  if (!is_slice && !parts[0]) return ErrorAt(at, "expected a subscript");
  e->kids.push_back(std::move(parts[0]));
  if (is_slice) {
    e->kids.push_back(std::move(parts[1]));
    e->kids.push_back(std::move(parts[2]));
  }
  return e;
}

// `(` args `)` appended to an expression whose kids[0] is the subject (or callee).

absl::StatusOr<ExprPtr> ExpressionParser::ParseCall(ExprPtr subject, Expr::Kind kind, const Token& at) {
  auto e = NewExpr(kind, at);
  e->kids.push_back(std::move(subject));
  return ParseArgs(std::move(e));
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseArgs(ExprPtr e) {
  RETURN_IF_ERROR(ExpectOp("("));
  bool first = true;
  while (!IsOp(")")) {
    if (!first) RETURN_IF_ERROR(ExpectOp(","));
    first = false;
    if (IsOp(")")) break;
    if (Cur().type == T::kName && Peek().type == T::kOp && Peek().text == "=") {
      std::string name = toks_[pos_].text;
      pos_ += 2;
      ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
      e->kwargs.emplace_back(std::move(name), std::move(v));
    } else {
      if (!e->kwargs.empty()) return ErrorAt(Cur(), "positional argument follows keyword argument");
      ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
      e->kids.push_back(std::move(v));
    }
  }
  ++pos_;
  return e;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseFilter(ExprPtr subject) {
  const Token& at = Cur();
  ASSIGN_OR_RETURN(std::string name, ExpectName());
  FilterFn fn = FindFilter(name);
  if (fn == nullptr) return ErrorAt(at, absl::StrCat("no filter named '", name, "'"));
  ExprPtr e;
  if (IsOp("(")) {
    ASSIGN_OR_RETURN(e, ParseCall(std::move(subject), Expr::Kind::kFilter, at));
  } else {
    e = NewExpr(Expr::Kind::kFilter, at);
    e->kids.push_back(std::move(subject));
  }
  e->name = std::move(name);
  e->filter = fn;
  return e;
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseFilterExpr(ExprPtr node) {
  while (true) {
    if (IsOp("|")) {
      ++pos_;
      ASSIGN_OR_RETURN(node, ParseFilter(std::move(node)));
    } else if (IsName("is")) {
      ++pos_;
      ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
    } else if (IsOp("(")) {
      ASSIGN_OR_RETURN(node, ParseCall(std::move(node), Expr::Kind::kCall, Cur()));
    } else {
      return node;
    }
  }
}

absl::StatusOr<ExprPtr> ExpressionParser::ParseTest(ExprPtr subject) {
  const Token& at = Cur();
  bool negated = false;
  if (IsName("not")) {
    negated = true;
    ++pos_;
  }
  ASSIGN_OR_RETURN(std::string name, ExpectName());
  TestFn fn = FindTest(name);
  if (fn == nullptr) return ErrorAt(at, absl::StrCat("no test named '", name, "'"));
  ExprPtr e;
  if (IsOp("(")) {
    ASSIGN_OR_RETURN(e, ParseCall(std::move(subject), Expr::Kind::kTest, at));
  } else {
    e = NewExpr(Expr::Kind::kTest, at);
    e->kids.push_back(std::move(subject));
    const Token& c = Cur();
    const bool arg_start = c.type == T::kName || c.type == T::kString || c.type == T::kInt || c.type == T::kFloat ||
                           (c.type == T::kOp && (c.text == "(" || c.text == "[" || c.text == "{"));
    if (arg_start && !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) return ErrorAt(c, "you cannot chain multiple tests with is");
      ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
      ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
      e->kids.push_back(std::move(arg));
    }
  }
  e->name = std::move(name);
  e->test = fn;
  e->negated = negated;
  return e;
}

}  // namespace jinja
