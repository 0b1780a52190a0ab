// The tree-walking interpreter behind Template::Render, and the interface the builtin filters, tests, methods and
// globals use. Internal to the engine. One Interpreter per render; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "services/template/jinja/ast.h"
#include "services/template/jinja/template.h"
#include "services/template/jinja/value.h"

namespace jinja {

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> kwargs;
};

// One variable scope: the template's top level, a loop iteration, a macro call, a with block.
struct Scope {
  std::vector<std::pair<std::string_view, Value>> vars;  // names point into the Program or the Context
  std::shared_ptr<Scope> parent;
  const Value* Find(std::string_view name) const;
  void Set(std::string_view name, Value value);
};

using BuiltinFn = absl::StatusOr<Value> (*)(Interpreter&, CallArgs&);
struct BuiltinCallable : Callable {
  BuiltinCallable(std::string n, BuiltinFn f) : Callable(Kind::kBuiltin, std::move(n)), fn(f) {}
  BuiltinFn fn;
};

// Binds positional and keyword arguments to named parameters with defaults (Python call semantics).
struct Param {
  const char* name;
  Value default_value;
};
[[nodiscard]] absl::Status BindArgs(std::string_view function, CallArgs& args, const std::vector<Param>& params,
                                    std::vector<Value>& out);

// Methods of str, list, dict (methods.cc). Returns nullopt-like `false` in *found when `name` is no method of
// `obj`'s type.
absl::StatusOr<Value> CallMethod(Interpreter& in, const Value& obj, std::string_view name, CallArgs& args, bool* found);
// Globals: range, namespace, dict, raise_exception, strftime_now (globals.cc). Undefined when unknown.
Value FindGlobal(std::string_view name);

// Python-semantics operators (operators.cc).
absl::StatusOr<Value> BinaryOp(BinOp op, const Value& a, const Value& b, size_t max_bytes);
absl::StatusOr<bool> Contains(const Value& container, const Value& item);
// obj[index] / obj.name with jinja2's fallbacks: missing keys and indices are undefined, not errors.
absl::StatusOr<Value> GetItem(const Value& obj, const Value& key);
absl::StatusOr<Value> GetAttr(const Value& obj, std::string_view name);
absl::StatusOr<Value> Slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Python iteration: list items, dict keys, string characters; undefined iterates as empty.
absl::StatusOr<List> Iterate(const Value& v);
absl::Status UndefinedError(const Value& v);
// The status of raise_exception(msg): exactly msg, marked so IsRaisedByTemplate() recognises it.
absl::Status RaisedByTemplate(std::string_view message);
absl::Status TypeError(std::string_view message);

class Interpreter {
 public:
  Interpreter(const Limits& limits, const Clock& clock) : limits_(limits), clock_(clock) {}

  absl::StatusOr<PString> Run(const Program& program, const Context& context);

  // For builtins.
  absl::StatusOr<Value> Call(const Value& callee, CallArgs& args);
  absl::StatusOr<Value> ApplyFilter(std::string_view name, CallArgs& args);
  absl::StatusOr<bool> ApplyTest(std::string_view name, CallArgs& args);
  absl::Status CheckSize(size_t bytes) const;
  absl::Status CountIteration();
  const Clock& clock() const { return clock_; }
  const Limits& limits() const { return limits_; }
  // Namespaces can hold themselves ({% set ns.me = ns %}); every one is emptied when the render ends, so no
  // reference cycle outlives it.
  void TrackNamespace(const Value& ns) { namespaces_.push_back(ns); }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using ScopePtr = std::shared_ptr<Scope>;

  absl::StatusOr<Flow> Exec(const Body& body, const ScopePtr& scope, PString& out);
  absl::StatusOr<Flow> ExecNode(const Node& node, const ScopePtr& scope, PString& out);
  absl::StatusOr<Flow> ExecFor(const Node& node, const ScopePtr& scope, PString& out);
  absl::Status ExecCallBlock(const Node& node, const ScopePtr& scope, PString& out);
  absl::StatusOr<Value> ApplyFilterChain(const std::vector<ExprPtr>& filters, Value subject, const ScopePtr& scope);
  absl::Status Append(PString& out, const PString& text) const;
  absl::Status CheckStack() const;
  absl::Status Assign(const std::vector<std::string>& targets, Value value, Scope& scope, int line);

  absl::StatusOr<Value> Eval(const Expr& e, const ScopePtr& scope);
  absl::StatusOr<Value> EvalInner(const Expr& e, const ScopePtr& scope);
  absl::Status EvalArgs(const Expr& e, size_t first, const ScopePtr& scope, CallArgs& args);
  absl::StatusOr<Value> EvalCall(const Expr& e, const ScopePtr& scope, CallArgs* extra);
  absl::StatusOr<Value> EvalCompare(const Expr& e, const ScopePtr& scope);
  absl::StatusOr<Value> LoopAttr(const LoopState& loop, std::string_view name);
  absl::StatusOr<Value> CallMacro(const struct MacroCallable& macro, CallArgs& args);

  const Limits& limits_;
  const Clock& clock_;
  // Scopes that macros and call blocks close over: a scope holds the macro and the macro holds the scope, so
  // they are emptied when the render ends to break the cycle.
  std::vector<ScopePtr> closure_scopes_;
  std::vector<Value> namespaces_;
  int64_t iterations_ = 0;
  uintptr_t stack_base_ = 0;
  int call_depth_ = 0;
};

}  // namespace jinja
