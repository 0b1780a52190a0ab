#include "services/template/jinja/interpreter.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/parser.h"

namespace jinja {
namespace {

constexpr char kRaisedPayload[] = "awqserve.jinja/raised";
constexpr char kLocatedPayload[] = "awqserve.jinja/located";

// Prefixes a runtime error with the line it happened on, once.
absl::Status Locate(absl::Status s, int line) {
  if (s.ok() || IsRaisedByTemplate(s) || s.GetPayload(kLocatedPayload).has_value()) return s;
  absl::Status out(s.code(), absl::StrCat("line ", line, ": ", s.message()));
  out.SetPayload(kLocatedPayload, absl::Cord("1"));
  return out;
}

}  // namespace

// A macro, or a call block's `caller`: the defining node plus the scope it closes over.
struct MacroCallable : Callable {
  MacroCallable(Kind kind, const Node& n, std::shared_ptr<Scope> s)
      : Callable(kind, kind == Kind::kMacro ? n.name : "caller"), node(n), closure(std::move(s)) {}
  const Node& node;
  std::shared_ptr<Scope> closure;
};

bool IsRaisedByTemplate(const absl::Status& status) { return status.GetPayload(kRaisedPayload).has_value(); }

absl::Status RaisedByTemplate(std::string_view message) {
  absl::Status s = absl::InvalidArgumentError(Sv(message));
  s.SetPayload(kRaisedPayload, absl::Cord("1"));
  return s;
}

const Value* Scope::Find(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent.get())
    for (const auto& [k, v] : s->vars)
      if (k == name) return &v;
  return nullptr;
}

void Scope::Set(std::string_view name, Value value) {
  for (auto& [k, v] : vars) {
    if (k == name) {
      v = std::move(value);
      return;
    }
  }
  vars.emplace_back(name, std::move(value));
}

absl::Status Interpreter::CheckSize(size_t bytes) const {
  if (bytes > limits_.max_output_bytes)
    return absl::ResourceExhaustedError(
        absl::StrCat("template output exceeds the limit of ", limits_.max_output_bytes, " bytes"));
  return absl::OkStatus();
}

absl::Status Interpreter::CountIteration() {
  if (++iterations_ > limits_.max_iterations)
    return absl::ResourceExhaustedError(
        absl::StrCat("template exceeds the limit of ", limits_.max_iterations, " loop iterations and macro calls"));
  return absl::OkStatus();
}

absl::Status Interpreter::Append(PString& out, const PString& text) const {
  RETURN_IF_ERROR(CheckSize(out.size() + text.size()));
  out.Append(text);
  return absl::OkStatus();
}

absl::StatusOr<PString> Interpreter::Run(const Program& program, const Context& context) {
  stack_base_ = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  auto globals = std::make_shared<Scope>();
  globals->vars.reserve(context.vars().size());
  for (const auto& [name, value] : context.vars()) globals->Set(name, value);
  PString out;
  absl::StatusOr<Flow> flow = Exec(program.body, globals, out);
  for (const ScopePtr& s : closure_scopes_) s->vars.clear();
  for (const Value& ns : namespaces_) ns.namespace_attrs().entries.clear();
  globals->vars.clear();
  if (!flow.ok()) return flow.status();
  return out;
}

absl::Status Interpreter::CheckStack() const {
  const uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (stack_base_ > here && stack_base_ - here > limits_.max_stack_bytes)
    return absl::ResourceExhaustedError(
        absl::StrCat("template nesting exceeds the stack budget of ", limits_.max_stack_bytes, " bytes"));
  return absl::OkStatus();
}

absl::StatusOr<Interpreter::Flow> Interpreter::Exec(const Body& body, const ScopePtr& scope, PString& out) {
  RETURN_IF_ERROR(CheckStack());
  for (const NodePtr& n : body) {
    absl::StatusOr<Flow> flow = ExecNode(*n, scope, out);
    if (!flow.ok()) return Locate(flow.status(), n->line);
    if (*flow != Flow::kNormal) return *flow;
  }
  return Flow::kNormal;
}

absl::Status Interpreter::Assign(const std::vector<std::string>& targets, Value value, Scope& scope, int line) {
  if (targets.size() == 1) {
    scope.Set(targets[0], std::move(value));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(List items, Iterate(value));
  if (items.size() != targets.size())
    return TypeError(absl::StrCat(items.size() < targets.size() ? "not enough" : "too many",
                                  " values to unpack (expected ", targets.size(), ", got ", items.size(), ")"));
  for (size_t i = 0; i < targets.size(); ++i) scope.Set(targets[i], std::move(items[i]));
  return absl::OkStatus();
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecNode(const Node& n, const ScopePtr& scope, PString& out) {
  switch (n.kind) {
    case Node::Kind::kText:
      RETURN_IF_ERROR(Append(out, PString(n.text, /*trusted=*/true)));
      return Flow::kNormal;
    case Node::Kind::kOutput: {
      ASSIGN_OR_RETURN(Value v, Eval(*n.expr, scope));
      if (v.is_string())
        RETURN_IF_ERROR(Append(out, v.pstr()));
      else
        RETURN_IF_ERROR(Append(out, v.ToPString()));
      return Flow::kNormal;
    }
    case Node::Kind::kIf:
      for (const auto& [cond, body] : n.branches) {
        ASSIGN_OR_RETURN(Value c, Eval(*cond, scope));
        if (c.Truthy()) return Exec(body, scope, out);
      }
      return Exec(n.else_body, scope, out);
    case Node::Kind::kFor:
      return ExecFor(n, scope, out);
    case Node::Kind::kSet: {
      ASSIGN_OR_RETURN(Value v, Eval(*n.expr, scope));
      RETURN_IF_ERROR(Assign(n.targets, std::move(v), *scope, n.line));
      return Flow::kNormal;
    }
    case Node::Kind::kSetAttr: {
      const Value* ns = scope->Find(n.targets[0]);
      if (ns == nullptr || !ns->is_namespace()) return TypeError("cannot assign attribute on non-namespace object");
      ASSIGN_OR_RETURN(Value v, Eval(*n.expr, scope));
      ns->namespace_attrs().Set(Value::String(n.targets[1], true), std::move(v));
      return Flow::kNormal;
    }
    case Node::Kind::kBlockSet: {
      PString captured;
      ASSIGN_OR_RETURN(Flow f, Exec(n.body, scope, captured));
      (void)f;
      ASSIGN_OR_RETURN(Value v, ApplyFilterChain(n.filters, Value::String(std::move(captured)), scope));
      scope->Set(n.targets[0], std::move(v));
      return Flow::kNormal;
    }
    case Node::Kind::kMacro:
      closure_scopes_.push_back(scope);
      scope->Set(n.name, Value::MakeCallable(std::make_shared<MacroCallable>(Callable::Kind::kMacro, n, scope)));
      return Flow::kNormal;
    case Node::Kind::kCallBlock:
      RETURN_IF_ERROR(ExecCallBlock(n, scope, out));
      return Flow::kNormal;
    case Node::Kind::kFilterBlock: {
      PString captured;
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      ASSIGN_OR_RETURN(Flow f, Exec(n.body, inner, captured));
      (void)f;
      ASSIGN_OR_RETURN(Value v, ApplyFilterChain(n.filters, Value::String(std::move(captured)), scope));
      RETURN_IF_ERROR(Append(out, v.ToPString()));
      return Flow::kNormal;
    }
    case Node::Kind::kWith: {
      auto inner = std::make_shared<Scope>();
      inner->parent = scope;
      for (size_t i = 0; i < n.targets.size(); ++i) {
        ASSIGN_OR_RETURN(Value v, Eval(*n.values[i], scope));
        inner->Set(n.targets[i], std::move(v));
      }
      return Exec(n.body, inner, out);
    }
    case Node::Kind::kBreak:
      return Flow::kBreak;
    case Node::Kind::kContinue:
      return Flow::kContinue;
  }
  return Flow::kNormal;
}

absl::StatusOr<Interpreter::Flow> Interpreter::ExecFor(const Node& n, const ScopePtr& scope, PString& out) {
  ASSIGN_OR_RETURN(Value iterable, Eval(*n.expr, scope));
  ASSIGN_OR_RETURN(List items, Iterate(iterable));
  if (n.cond) {
    List kept;
    for (Value& item : items) {
      RETURN_IF_ERROR(CountIteration());
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      RETURN_IF_ERROR(Assign(n.targets, item, *probe, n.line));
      ASSIGN_OR_RETURN(Value c, Eval(*n.cond, probe));
      if (c.Truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    ASSIGN_OR_RETURN(Flow f, Exec(n.else_body, inner, out));
    (void)f;
    return Flow::kNormal;
  }
  auto loop = std::make_shared<LoopState>();
  loop->items = std::make_shared<const List>(std::move(items));
  const Value loop_value = Value::MakeLoop(loop);
  for (size_t i = 0; i < loop->items->size(); ++i) {
    RETURN_IF_ERROR(CountIteration());
    loop->index0 = i;
    auto inner = std::make_shared<Scope>();
    inner->parent = scope;
    inner->vars.reserve(n.targets.size() + 2);
    RETURN_IF_ERROR(Assign(n.targets, (*loop->items)[i], *inner, n.line));
    inner->Set("loop", loop_value);
    ASSIGN_OR_RETURN(Flow f, Exec(n.body, inner, out));
    if (f == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

absl::Status Interpreter::ExecCallBlock(const Node& n, const ScopePtr& scope, PString& out) {
  closure_scopes_.push_back(scope);
  CallArgs extra;
  extra.kwargs.emplace_back("caller",
                            Value::MakeCallable(std::make_shared<MacroCallable>(Callable::Kind::kCaller, n, scope)));
  ASSIGN_OR_RETURN(Value v, EvalCall(*n.expr, scope, &extra));
  return Append(out, v.ToPString());
}

absl::StatusOr<Value> Interpreter::ApplyFilterChain(const std::vector<ExprPtr>& filters, Value subject,
                                                    const ScopePtr& scope) {
  for (const ExprPtr& f : filters) {
    CallArgs args;
    args.positional.push_back(std::move(subject));
    RETURN_IF_ERROR(EvalArgs(*f, 1, scope, args));
    ASSIGN_OR_RETURN(subject, f->filter(*this, args));
  }
  return subject;
}

absl::StatusOr<Value> Interpreter::Call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) return UndefinedError(callee);
  if (!callee.is_callable()) return TypeError(absl::StrCat("'", callee.TypeName(), "' object is not callable"));
  const std::shared_ptr<Callable> fn = callee.callable();
  if (fn->kind == Callable::Kind::kBuiltin) {
    return static_cast<const BuiltinCallable&>(*fn).fn(*this, args);
  }
  return CallMacro(static_cast<const MacroCallable&>(*fn), args);
}

absl::StatusOr<Value> Interpreter::CallMacro(const MacroCallable& macro, CallArgs& args) {
  RETURN_IF_ERROR(CountIteration());
  if (call_depth_ >= limits_.max_call_depth)
    return absl::ResourceExhaustedError(
        absl::StrCat("template exceeds the limit of ", limits_.max_call_depth, " nested macro calls"));
  const Node& n = macro.node;
  auto scope = std::make_shared<Scope>();
  scope->parent = macro.closure;
  const size_t nparams = n.targets.size();
  std::vector<bool> bound(nparams, false);
  List varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < nparams) {
      scope->Set(n.targets[i], std::move(args.positional[i]));
      bound[i] = true;
    } else {
      varargs.push_back(std::move(args.positional[i]));
    }
  }
  Dict kwargs;
  for (auto& [k, v] : args.kwargs) {
    size_t i = 0;
    while (i < nparams && n.targets[i] != k) ++i;
    if (i < nparams) {
      if (bound[i])
        return TypeError(absl::StrCat("macro '", macro.name, "' got multiple values for argument '", k, "'"));
      scope->Set(n.targets[i], std::move(v));
      bound[i] = true;
    } else if (k == "caller") {
      scope->Set("caller", std::move(v));
    } else {
      kwargs.Set(Value::String(k, true), std::move(v));
    }
  }
  for (size_t i = 0; i < nparams; ++i) {
    if (bound[i]) continue;
    if (n.values[i]) {
      ASSIGN_OR_RETURN(Value d, Eval(*n.values[i], scope));
      scope->Set(n.targets[i], std::move(d));
    } else {
      scope->Set(n.targets[i], Value::Undefined(absl::StrCat("parameter '", n.targets[i], "' was not provided")));
    }
  }
  scope->Set("varargs", Value::MakeTuple(std::move(varargs)));
  scope->Set("kwargs", Value::MakeDict(std::move(kwargs)));
  ++call_depth_;
  PString out;
  absl::StatusOr<Flow> flow = Exec(n.body, scope, out);
  --call_depth_;
  if (!flow.ok()) return flow.status();
  return Value::String(std::move(out));
}

// ---- expressions ------------------------------------------------------------------------------------------------

absl::StatusOr<Value> Interpreter::Eval(const Expr& e, const ScopePtr& scope) {
  absl::StatusOr<Value> v = EvalInner(e, scope);
  if (!v.ok()) return Locate(v.status(), e.line);
  return v;
}

absl::Status Interpreter::EvalArgs(const Expr& e, size_t first, const ScopePtr& scope, CallArgs& args) {
  for (size_t i = first; i < e.kids.size(); ++i) {
    ASSIGN_OR_RETURN(Value v, Eval(*e.kids[i], scope));
    args.positional.push_back(std::move(v));
  }
  for (const auto& [name, x] : e.kwargs) {
    ASSIGN_OR_RETURN(Value v, Eval(*x, scope));
    args.kwargs.emplace_back(name, std::move(v));
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> Interpreter::EvalCall(const Expr& e, const ScopePtr& scope, CallArgs* extra) {
  CallArgs args;
  RETURN_IF_ERROR(EvalArgs(e, 1, scope, args));
  if (extra != nullptr)
    for (auto& kw : extra->kwargs) args.kwargs.push_back(std::move(kw));
  const Expr& callee = *e.kids[0];
  if (callee.kind == Expr::Kind::kGetattr) {
    ASSIGN_OR_RETURN(Value obj, Eval(*callee.kids[0], scope));
    bool found = false;
    if (obj.is_loop() && callee.name == "cycle") {
      if (args.positional.empty()) return TypeError("no items for cycling given");
      return args.positional[obj.loop().index0 % args.positional.size()];
    }
    ASSIGN_OR_RETURN(Value result, CallMethod(*this, obj, callee.name, args, &found));
    if (found) return result;
    ASSIGN_OR_RETURN(Value fn, GetAttr(obj, callee.name));
    return Call(fn, args);
  }
  ASSIGN_OR_RETURN(Value fn, Eval(callee, scope));
  return Call(fn, args);
}

absl::StatusOr<Value> Interpreter::LoopAttr(const LoopState& loop, std::string_view name) {
  const int64_t i = static_cast<int64_t>(loop.index0), n = static_cast<int64_t>(loop.items->size());
  if (name == "index") return Value::Int(i + 1);
  if (name == "index0") return Value::Int(i);
  if (name == "first") return Value::Bool(i == 0);
  if (name == "last") return Value::Bool(i == n - 1);
  if (name == "length") return Value::Int(n);
  if (name == "revindex") return Value::Int(n - i);
  if (name == "revindex0") return Value::Int(n - i - 1);
  if (name == "depth") return Value::Int(loop.depth);
  if (name == "depth0") return Value::Int(loop.depth - 1);
  if (name == "previtem") return i > 0 ? (*loop.items)[i - 1] : Value::Undefined("there is no previous item");
  if (name == "nextitem") return i + 1 < n ? (*loop.items)[i + 1] : Value::Undefined("there is no next item");
  return Value::Undefined(absl::StrCat("'LoopContext object' has no attribute '", Sv(name), "'"));
}

absl::StatusOr<Value> Interpreter::EvalCompare(const Expr& e, const ScopePtr& scope) {
  ASSIGN_OR_RETURN(Value left, Eval(*e.kids[0], scope));
  for (size_t i = 0; i < e.cmp_ops.size(); ++i) {
    ASSIGN_OR_RETURN(Value right, Eval(*e.kids[i + 1], scope));
    bool r = false;
    switch (e.cmp_ops[i]) {
      case CmpOp::kEq:
        r = PyEquals(left, right);
        break;
      case CmpOp::kNe:
        r = !PyEquals(left, right);
        break;
      case CmpOp::kIn:
      case CmpOp::kNotIn: {
        ASSIGN_OR_RETURN(bool c, Contains(right, left));
        r = e.cmp_ops[i] == CmpOp::kIn ? c : !c;
        break;
      }
      default: {
        if (left.is_undefined()) return UndefinedError(left);
        if (right.is_undefined()) return UndefinedError(right);
        ASSIGN_OR_RETURN(int c, PyCompare(left, right));
        const CmpOp op = e.cmp_ops[i];
        r = op == CmpOp::kLt ? c < 0 : op == CmpOp::kLe ? c <= 0 : op == CmpOp::kGt ? c > 0 : c >= 0;
      }
    }
    if (!r) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

absl::StatusOr<Value> Interpreter::EvalInner(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal;
    case Expr::Kind::kName: {
      if (const Value* v = scope->Find(e.name)) return *v;
      Value g = FindGlobal(e.name);
      if (!g.is_undefined()) return g;
      return Value::Undefined(absl::StrCat("'", e.name, "' is undefined"));
    }
    case Expr::Kind::kGetattr: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.kids[0], scope));
      if (obj.is_loop()) return LoopAttr(obj.loop(), e.name);
      return GetAttr(obj, e.name);
    }
    case Expr::Kind::kGetitem: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.kids[0], scope));
      ASSIGN_OR_RETURN(Value key, Eval(*e.kids[1], scope));
      if (obj.is_loop() && key.is_string()) return LoopAttr(obj.loop(), key.str());
      return GetItem(obj, key);
    }
    case Expr::Kind::kSlice: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.kids[0], scope));
      Value parts[3] = {Value::None(), Value::None(), Value::None()};
      for (int i = 0; i < 3; ++i)
        if (e.kids[i + 1]) {
          ASSIGN_OR_RETURN(parts[i], Eval(*e.kids[i + 1], scope));
        }
      return Slice(obj, parts[0], parts[1], parts[2]);
    }
    case Expr::Kind::kCall:
      return EvalCall(e, scope, nullptr);
    case Expr::Kind::kFilter: {
      CallArgs args;
      ASSIGN_OR_RETURN(Value subject, Eval(*e.kids[0], scope));
      args.positional.push_back(std::move(subject));
      RETURN_IF_ERROR(EvalArgs(e, 1, scope, args));
      return e.filter(*this, args);
    }
    case Expr::Kind::kTest: {
      CallArgs args;
      ASSIGN_OR_RETURN(Value subject, Eval(*e.kids[0], scope));
      args.positional.push_back(std::move(subject));
      RETURN_IF_ERROR(EvalArgs(e, 1, scope, args));
      ASSIGN_OR_RETURN(bool r, e.test(*this, args));
      return Value::Bool(r != e.negated);
    }
    case Expr::Kind::kNot: {
      ASSIGN_OR_RETURN(Value v, Eval(*e.kids[0], scope));
      return Value::Bool(!v.Truthy());
    }
    case Expr::Kind::kNeg:
    case Expr::Kind::kPos: {
      ASSIGN_OR_RETURN(Value v, Eval(*e.kids[0], scope));
      if (v.is_undefined()) return UndefinedError(v);
      if (!v.is_number())
        return TypeError(absl::StrCat("bad operand type for unary ", e.kind == Expr::Kind::kNeg ? "-" : "+", ": '",
                                      v.TypeName(), "'"));
      if (e.kind == Expr::Kind::kPos) return v.is_bool() ? Value::Int(v.AsInt()) : v;
      return v.is_float() ? Value::Float(-v.AsFloat()) : Value::Int(-v.AsInt());
    }
    case Expr::Kind::kBinary: {
      ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0], scope));
      ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1], scope));
      return BinaryOp(e.bin_op, a, b, limits_.max_output_bytes);
    }
    case Expr::Kind::kAnd:
    case Expr::Kind::kOr: {
      ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0], scope));
      if (a.Truthy() == (e.kind == Expr::Kind::kOr)) return a;
      return Eval(*e.kids[1], scope);
    }
    case Expr::Kind::kCompare:
      return EvalCompare(e, scope);
    case Expr::Kind::kCond: {
      ASSIGN_OR_RETURN(Value c, Eval(*e.kids[0], scope));
      if (c.Truthy()) return Eval(*e.kids[1], scope);
      if (e.kids[2]) return Eval(*e.kids[2], scope);
      return Value::Undefined("the inline if-expression evaluated to false and no else section was defined");
    }
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      List items;
      items.reserve(e.kids.size());
      for (const ExprPtr& k : e.kids) {
        ASSIGN_OR_RETURN(Value v, Eval(*k, scope));
        items.push_back(std::move(v));
      }
      return e.kind == Expr::Kind::kList ? Value::MakeList(std::move(items)) : Value::MakeTuple(std::move(items));
    }
    case Expr::Kind::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
        ASSIGN_OR_RETURN(Value k, Eval(*e.kids[i], scope));
        ASSIGN_OR_RETURN(Value v, Eval(*e.kids[i + 1], scope));
        if (k.is_list() && k.kind() == Value::Kind::kList) return TypeError("unhashable type: 'list'");
        d.Set(std::move(k), std::move(v));
      }
      return Value::MakeDict(std::move(d));
    }
  }
  return Value();
}

absl::StatusOr<Value> Interpreter::ApplyFilter(std::string_view name, CallArgs& args) {
  FilterFn f = FindFilter(name);
  if (f == nullptr) return absl::InvalidArgumentError(absl::StrCat("no filter named '", Sv(name), "'"));
  return f(*this, args);
}

absl::StatusOr<bool> Interpreter::ApplyTest(std::string_view name, CallArgs& args) {
  TestFn t = FindTest(name);
  if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("no test named '", Sv(name), "'"));
  return t(*this, args);
}

}  // namespace jinja
