// The builtin tests (`x is defined`, `x is mapping`, ...), with jinja2's semantics.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/interpreter.h"
#include "services/template/jinja/parser.h"

namespace jinja {
namespace {

const Value& Subject(CallArgs& c) { return c.positional[0]; }

absl::StatusOr<Value> Arg(CallArgs& c, std::string_view test) {
  if (c.positional.size() >= 2) return c.positional[1];
  if (!c.kwargs.empty()) return c.kwargs[0].second;
  return TypeError(absl::StrCat("Sv(test) '", Sv(test), "' takes one argument"));
}

absl::StatusOr<bool> TDefined(Interpreter&, CallArgs& c) { return !Subject(c).is_undefined(); }
absl::StatusOr<bool> TUndefined(Interpreter&, CallArgs& c) { return Subject(c).is_undefined(); }
absl::StatusOr<bool> TNone(Interpreter&, CallArgs& c) { return Subject(c).is_none(); }
absl::StatusOr<bool> TBoolean(Interpreter&, CallArgs& c) { return Subject(c).is_bool(); }
absl::StatusOr<bool> TTrue(Interpreter&, CallArgs& c) { return Subject(c).is_bool() && Subject(c).AsBool(); }
absl::StatusOr<bool> TFalse(Interpreter&, CallArgs& c) { return Subject(c).is_bool() && !Subject(c).AsBool(); }
absl::StatusOr<bool> TInteger(Interpreter&, CallArgs& c) { return Subject(c).is_int(); }
absl::StatusOr<bool> TFloat(Interpreter&, CallArgs& c) { return Subject(c).is_float(); }
absl::StatusOr<bool> TNumber(Interpreter&, CallArgs& c) { return Subject(c).is_number(); }
absl::StatusOr<bool> TString(Interpreter&, CallArgs& c) { return Subject(c).is_string(); }
absl::StatusOr<bool> TMapping(Interpreter&, CallArgs& c) { return Subject(c).is_dict(); }
absl::StatusOr<bool> TCallable(Interpreter&, CallArgs& c) { return Subject(c).is_callable(); }
absl::StatusOr<bool> TEscaped(Interpreter&, CallArgs&) { return false; }
// Undefined counts as iterable and as a sequence in jinja2 (it defines __iter__, __len__ and __getitem__).
absl::StatusOr<bool> TIterable(Interpreter&, CallArgs& c) {
  const Value& v = Subject(c);
  return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
}
absl::StatusOr<bool> TSequence(Interpreter& in, CallArgs& c) { return TIterable(in, c); }

absl::StatusOr<bool> TSameAs(Interpreter&, CallArgs& c) {
  ASSIGN_OR_RETURN(Value other, Arg(c, "sameas"));
  const Value& v = Subject(c);
  if (v.kind() != other.kind()) return false;
  // Python `is`: None, booleans and small ints are singletons; shared objects compare by identity.
  if (v.is_undefined() || v.is_none() || v.is_bool() || v.is_int() || v.is_float()) return PyEquals(v, other);
  return v.identity() == other.identity();
}

template <CmpOp kOp>
absl::StatusOr<bool> TCompare(Interpreter&, CallArgs& c) {
  ASSIGN_OR_RETURN(Value other, Arg(c, "comparison"));
  const Value& v = Subject(c);
  if (kOp == CmpOp::kEq) return PyEquals(v, other);
  if (kOp == CmpOp::kNe) return !PyEquals(v, other);
  if (kOp == CmpOp::kIn) return Contains(other, v);
  ASSIGN_OR_RETURN(int r, PyCompare(v, other));
  return kOp == CmpOp::kLt ? r < 0 : kOp == CmpOp::kLe ? r <= 0 : kOp == CmpOp::kGt ? r > 0 : r >= 0;
}

absl::StatusOr<bool> TDivisibleBy(Interpreter&, CallArgs& c) {
  ASSIGN_OR_RETURN(Value n, Arg(c, "divisibleby"));
  const Value& v = Subject(c);
  if (!v.is_number() || !n.is_number()) return TypeError("divisibleby: numbers are required");
  if (n.AsInt() == 0) return TypeError("integer division or modulo by zero");
  return v.AsInt() % n.AsInt() == 0;
}
absl::StatusOr<bool> TEven(Interpreter&, CallArgs& c) {
  if (!Subject(c).is_number()) return TypeError("even: a number is required");
  return Subject(c).AsInt() % 2 == 0;
}
absl::StatusOr<bool> TOdd(Interpreter&, CallArgs& c) {
  if (!Subject(c).is_number()) return TypeError("odd: a number is required");
  return Subject(c).AsInt() % 2 != 0;
}
template <bool kLower>
absl::StatusOr<bool> TCase(Interpreter& in, CallArgs& c) {
  CallArgs none;
  bool found;
  ASSIGN_OR_RETURN(Value r,
                   CallMethod(in, Value::String(Subject(c).ToPString()), kLower ? "islower" : "isupper", none, &found));
  return r.Truthy();
}
absl::StatusOr<bool> TFilter(Interpreter&, CallArgs& c) {
  return Subject(c).is_string() && FindFilter(Subject(c).str()) != nullptr;
}
absl::StatusOr<bool> TTest(Interpreter&, CallArgs& c) {
  return Subject(c).is_string() && FindTest(Subject(c).str()) != nullptr;
}

struct TestEntry {
  const char* name;
  TestFn fn;
};

const TestEntry kTests[] = {
    {"boolean", TBoolean},
    {"callable", TCallable},
    {"defined", TDefined},
    {"divisibleby", TDivisibleBy},
    {"eq", TCompare<CmpOp::kEq>},
    {"equalto", TCompare<CmpOp::kEq>},
    {"escaped", TEscaped},
    {"even", TEven},
    {"false", TFalse},
    {"filter", TFilter},
    {"float", TFloat},
    {"ge", TCompare<CmpOp::kGe>},
    {"greaterthan", TCompare<CmpOp::kGt>},
    {"gt", TCompare<CmpOp::kGt>},
    {"in", TCompare<CmpOp::kIn>},
    {"integer", TInteger},
    {"iterable", TIterable},
    {"le", TCompare<CmpOp::kLe>},
    {"lessthan", TCompare<CmpOp::kLt>},
    {"lower", TCase<true>},
    {"lt", TCompare<CmpOp::kLt>},
    {"mapping", TMapping},
    {"ne", TCompare<CmpOp::kNe>},
    {"none", TNone},
    {"number", TNumber},
    {"odd", TOdd},
    {"sameas", TSameAs},
    {"sequence", TSequence},
    {"string", TString},
    {"test", TTest},
    {"true", TTrue},
    {"undefined", TUndefined},
    {"upper", TCase<false>},
};

}  // namespace

TestFn FindTest(std::string_view name) {
  for (const TestEntry& t : kTests)
    if (name == t.name) return t.fn;
  return nullptr;
}

}  // namespace jinja
