// The parsed template: expression and statement trees. Built once by the parser, then read-only: one Program is
// shared by every render of the template, from any thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "services/template/jinja/value.h"

namespace jinja {

class Interpreter;
struct CallArgs;
// A filter: the subject is args.positional[0].
using FilterFn = absl::StatusOr<Value> (*)(Interpreter&, CallArgs&);
// A test: the subject is args.positional[0].
using TestFn = absl::StatusOr<bool> (*)(Interpreter&, CallArgs&);

enum class BinOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat };
enum class CmpOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // literal
    kName,     // name
    kGetattr,  // kids[0].name
    kGetitem,  // kids[0][kids[1]]
    kSlice,    // kids[0][kids[1]:kids[2]:kids[3]] (null kids for omitted parts)
    kCall,     // kids[0](kids[1..], kwargs)
    kFilter,   // kids[0] | name(kids[1..], kwargs); kids[0] is null inside a filter block's chain
    kTest,     // kids[0] is [not] name(kids[1..], kwargs)
    kNeg,
    kPos,
    kNot,
    kBinary,  // kids[0] bin_op kids[1]
    kAnd,
    kOr,
    kCompare,  // kids[0] cmp_ops[0] kids[1] cmp_ops[1] kids[2] ...
    kCond,     // kids[1] if kids[0] else kids[2] (kids[2] null: undefined)
    kList,
    kTuple,
    kDict,  // kids: key, value, key, value, ...
  };
  Kind kind;
  int line = 0;
  int column = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> kids;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  BinOp bin_op = BinOp::kAdd;
  std::vector<CmpOp> cmp_ops;
  bool negated = false;       // kTest: `is not`
  FilterFn filter = nullptr;  // kFilter, resolved at parse time
  TestFn test = nullptr;      // kTest, resolved at parse time
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    kText,         // text (a template literal)
    kOutput,       // {{ expr }}
    kIf,           // branches, else_body
    kFor,          // for targets in expr [if cond] body [else else_body]
    kSet,          // set targets = expr
    kSetAttr,      // set targets[0].targets[1] = expr
    kBlockSet,     // set targets[0] [| filters] body endset
    kMacro,        // macro name(params = defaults) body
    kCallBlock,    // call[(params = defaults)] expr body
    kFilterBlock,  // filter filters body
    kWith,         // with targets = values body
    kBreak,
    kContinue,
  };
  Kind kind;
  int line = 0;
  int column = 0;
  std::string text;
  std::string name;
  ExprPtr expr;
  ExprPtr cond;
  std::vector<std::string> targets;
  std::vector<ExprPtr> values;   // kWith: one per target; kMacro/kCallBlock: defaults (null when none)
  std::vector<ExprPtr> filters;  // kBlockSet / kFilterBlock: kFilter exprs with a null subject
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
};

struct Program {
  Body body;
};

}  // namespace jinja
