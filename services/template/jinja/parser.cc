#include "services/template/jinja/parser.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/expression_parser.h"
#include "services/template/jinja/lexer.h"

namespace jinja {
namespace {

using T = Token::Type;

// The statement half of the parser: template data, print statements and blocks.
class Parser : public ExpressionParser {
 public:
  using ExpressionParser::ExpressionParser;

  absl::StatusOr<std::unique_ptr<Program>> Run() {
    auto program = std::make_unique<Program>();
    ASSIGN_OR_RETURN(program->body, ParseBody({}));
    return program;
  }

 private:
  NodePtr NewNode(Node::Kind kind, const Token& at) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->line = at.line;
    n->column = at.column;
    return n;
  }

  // ---- statements ---------------------------------------------------------------------------------------------
  // Parses until a block whose first name is one of `ends` (left unconsumed) or the end of the template.
  absl::StatusOr<Body> ParseBody(std::initializer_list<const char*> ends) {
    RETURN_IF_ERROR(Enter());
    Body body;
    while (true) {
      const Token& t = Cur();
      if (t.type == T::kEof) {
        if (ends.size() == 0) break;
        const char* closing = *ends.begin();
        for (const char* e : ends)
          if (std::string_view(e).rfind("end", 0) == 0) closing = e;
        return ErrorAt(t, absl::StrCat("unexpected end of template, expected '", closing, "'"));
      }
      if (t.type == T::kData) {
        auto n = NewNode(Node::Kind::kText, t);
        n->text = t.text;
        body.push_back(std::move(n));
        ++pos_;
      } else if (t.type == T::kVarBegin) {
        auto n = NewNode(Node::Kind::kOutput, t);
        ++pos_;
        ASSIGN_OR_RETURN(n->expr, ParseTuple(false, true, {}));
        if (Cur().type != T::kVarEnd) return Unexpected("end of print statement");
        ++pos_;
        body.push_back(std::move(n));
      } else if (t.type == T::kBlockBegin) {
        const Token& tag = Peek();
        if (tag.type != T::kName) return ErrorAt(tag, "expected a statement name");
        for (const char* e : ends)
          if (tag.text == e) {
            --depth_;
            return body;
          }
        ++pos_;
        ASSIGN_OR_RETURN(NodePtr n, ParseStatement());
        if (n) body.push_back(std::move(n));
      } else {
        return ErrorAt(t, absl::StrCat("unexpected ", Describe(t)));
      }
    }
    --depth_;
    return body;
  }

  // Consumes `{% name` ... `%}` of an end tag.
  absl::Status ExpectEnd(const char* name) {
    ++pos_;  // block begin
    if (!IsName(name)) return Unexpected(absl::StrCat("'", name, "'"));
    ++pos_;
    return ExpectBlockEnd();
  }

  absl::StatusOr<NodePtr> ParseStatement() {
    const Token& t = Cur();
    const std::string& tag = t.text;
    ++pos_;
    if (tag == "if") return ParseIf(t);
    if (tag == "for") return ParseFor(t);
    if (tag == "set") return ParseSet(t);
    if (tag == "macro") return ParseMacro(t);
    if (tag == "call") return ParseCallBlock(t);
    if (tag == "filter") return ParseFilterBlock(t);
    if (tag == "with") return ParseWith(t);
    if (tag == "generation") {
      auto n = NewNode(Node::Kind::kWith, t);
      RETURN_IF_ERROR(ExpectBlockEnd());
      ASSIGN_OR_RETURN(n->body, ParseBody({"endgeneration"}));
      RETURN_IF_ERROR(ExpectEnd("endgeneration"));
      return n;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return ErrorAt(t, absl::StrCat("'", tag, "' outside of a loop"));
      auto n = NewNode(tag == "break" ? Node::Kind::kBreak : Node::Kind::kContinue, t);
      RETURN_IF_ERROR(ExpectBlockEnd());
      return n;
    }
    return ErrorAt(t, absl::StrCat("encountered unknown or unexpected tag '", tag, "'"));
  }

  absl::StatusOr<NodePtr> ParseIf(const Token& at) {
    auto n = NewNode(Node::Kind::kIf, at);
    while (true) {
      ASSIGN_OR_RETURN(ExprPtr cond, ParseTuple(false, true, {}));
      RETURN_IF_ERROR(ExpectBlockEnd());
      ASSIGN_OR_RETURN(Body body, ParseBody({"elif", "else", "endif"}));
      n->branches.emplace_back(std::move(cond), std::move(body));
      ++pos_;
      const std::string which = Cur().text;
      ++pos_;
      if (which == "elif") continue;
      if (which == "else") {
        RETURN_IF_ERROR(ExpectBlockEnd());
        ASSIGN_OR_RETURN(n->else_body, ParseBody({"endif"}));
        RETURN_IF_ERROR(ExpectEnd("endif"));
      } else {
        RETURN_IF_ERROR(ExpectBlockEnd());
      }
      return n;
    }
  }

  absl::StatusOr<std::vector<std::string>> ParseTargets(const char* end_name) {
    std::vector<std::string> names;
    const bool paren = IsOp("(");
    if (paren) ++pos_;
    while (true) {
      ASSIGN_OR_RETURN(std::string name, ExpectName());
      names.push_back(std::move(name));
      if (!IsOp(",")) break;
      ++pos_;
      if ((end_name && IsName(end_name)) || IsOp("=") || IsOp(")")) break;
    }
    if (paren) RETURN_IF_ERROR(ExpectOp(")"));
    return names;
  }

  absl::StatusOr<NodePtr> ParseFor(const Token& at) {
    auto n = NewNode(Node::Kind::kFor, at);
    ASSIGN_OR_RETURN(n->targets, ParseTargets("in"));
    if (!IsName("in")) return Unexpected("'in'");
    ++pos_;
    ASSIGN_OR_RETURN(n->expr, ParseTuple(false, false, {"recursive"}));
    if (IsName("if")) {
      ++pos_;
      ASSIGN_OR_RETURN(n->cond, ParseExpression(true));
    }
    if (IsName("recursive")) return ErrorAt(Cur(), "recursive loops are not supported");
    RETURN_IF_ERROR(ExpectBlockEnd());
    ++loop_depth_;
    ASSIGN_OR_RETURN(n->body, ParseBody({"endfor", "else"}));
    --loop_depth_;
    ++pos_;
    if (Cur().text == "else") {
      ++pos_;
      RETURN_IF_ERROR(ExpectBlockEnd());
      ASSIGN_OR_RETURN(n->else_body, ParseBody({"endfor"}));
      RETURN_IF_ERROR(ExpectEnd("endfor"));
    } else {
      ++pos_;
      RETURN_IF_ERROR(ExpectBlockEnd());
    }
    return n;
  }

  absl::StatusOr<NodePtr> ParseSet(const Token& at) {
    if (Cur().type == T::kName && Peek().type == T::kOp && Peek().text == "." && Peek(2).type == T::kName) {
      auto n = NewNode(Node::Kind::kSetAttr, at);
      n->targets = {Cur().text, Peek(2).text};
      pos_ += 3;
      RETURN_IF_ERROR(ExpectOp("="));
      ASSIGN_OR_RETURN(n->expr, ParseTuple(false, true, {}));
      RETURN_IF_ERROR(ExpectBlockEnd());
      return n;
    }
    ASSIGN_OR_RETURN(std::vector<std::string> targets, ParseTargets(nullptr));
    if (IsOp("=")) {
      ++pos_;
      auto n = NewNode(Node::Kind::kSet, at);
      n->targets = std::move(targets);
      ASSIGN_OR_RETURN(n->expr, ParseTuple(false, true, {}));
      RETURN_IF_ERROR(ExpectBlockEnd());
      return n;
    }
    if (targets.size() != 1) return Unexpected("'='");
    auto n = NewNode(Node::Kind::kBlockSet, at);
    n->targets = std::move(targets);
    RETURN_IF_ERROR(ParseFilterChain(n->filters));
    RETURN_IF_ERROR(ExpectBlockEnd());
    ASSIGN_OR_RETURN(n->body, ParseBody({"endset"}));
    RETURN_IF_ERROR(ExpectEnd("endset"));
    return n;
  }

  // `| f(args) | g` with null subjects, for block set and filter blocks.
  absl::Status ParseFilterChain(std::vector<ExprPtr>& out, bool require_first = false) {
    bool first = true;
    while (IsOp("|") || (require_first && first)) {
      if (!(require_first && first)) ++pos_;
      first = false;
      ASSIGN_OR_RETURN(ExprPtr f, ParseFilter(nullptr));
      out.push_back(std::move(f));
    }
    return absl::OkStatus();
  }

  // (a, b=default, ...)
  absl::Status ParseSignature(Node& n) {
    RETURN_IF_ERROR(ExpectOp("("));
    while (!IsOp(")")) {
      if (!n.targets.empty()) RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp(")")) break;
      ASSIGN_OR_RETURN(std::string name, ExpectName());
      n.targets.push_back(std::move(name));
      ExprPtr def;
      if (IsOp("=")) {
        ++pos_;
        ASSIGN_OR_RETURN(def, ParseExpression(true));
      } else if (!n.values.empty() && n.values.back()) {
        return ErrorAt(Cur(), "non-default argument follows default argument");
      }
      n.values.push_back(std::move(def));
    }
    ++pos_;
    return absl::OkStatus();
  }

  absl::StatusOr<NodePtr> ParseMacro(const Token& at) {
    auto n = NewNode(Node::Kind::kMacro, at);
    ASSIGN_OR_RETURN(n->name, ExpectName());
    RETURN_IF_ERROR(ParseSignature(*n));
    RETURN_IF_ERROR(ExpectBlockEnd());
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    ASSIGN_OR_RETURN(n->body, ParseBody({"endmacro"}));
    loop_depth_ = saved_loops;
    RETURN_IF_ERROR(ExpectEnd("endmacro"));
    return n;
  }

  absl::StatusOr<NodePtr> ParseCallBlock(const Token& at) {
    auto n = NewNode(Node::Kind::kCallBlock, at);
    if (IsOp("(")) RETURN_IF_ERROR(ParseSignature(*n));
    ASSIGN_OR_RETURN(n->expr, ParseExpression(true));
    if (n->expr->kind != Expr::Kind::kCall) return ErrorAt(at, "expected call");
    RETURN_IF_ERROR(ExpectBlockEnd());
    ASSIGN_OR_RETURN(n->body, ParseBody({"endcall"}));
    RETURN_IF_ERROR(ExpectEnd("endcall"));
    return n;
  }

  absl::StatusOr<NodePtr> ParseFilterBlock(const Token& at) {
    auto n = NewNode(Node::Kind::kFilterBlock, at);
    RETURN_IF_ERROR(ParseFilterChain(n->filters, /*require_first=*/true));
    RETURN_IF_ERROR(ExpectBlockEnd());
    ASSIGN_OR_RETURN(n->body, ParseBody({"endfilter"}));
    RETURN_IF_ERROR(ExpectEnd("endfilter"));
    return n;
  }

  absl::StatusOr<NodePtr> ParseWith(const Token& at) {
    auto n = NewNode(Node::Kind::kWith, at);
    while (Cur().type != T::kBlockEnd) {
      if (!n->targets.empty()) RETURN_IF_ERROR(ExpectOp(","));
      ASSIGN_OR_RETURN(std::string name, ExpectName());
      RETURN_IF_ERROR(ExpectOp("="));
      ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
      n->targets.push_back(std::move(name));
      n->values.push_back(std::move(value));
    }
    ++pos_;
    ASSIGN_OR_RETURN(n->body, ParseBody({"endwith"}));
    RETURN_IF_ERROR(ExpectEnd("endwith"));
    return n;
  }

  int loop_depth_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Program>> Parse(std::string_view source, int max_depth) {
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(source));
  Parser parser(std::move(tokens), max_depth);
  return parser.Run();
}

}  // namespace jinja
