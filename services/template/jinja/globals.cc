// Global functions: raise_exception, strftime_now, range, namespace, dict.
#include <ctime>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/interpreter.h"

namespace jinja {
namespace {

absl::StatusOr<Value> GRaiseException(Interpreter&, CallArgs& c) {
  std::vector<Value> a;
  RETURN_IF_ERROR(BindArgs("raise_exception", c, {{"message", Value::String("", true)}}, a));
  return RaisedByTemplate(a[0].ToText());
}

absl::StatusOr<Value> GStrftimeNow(Interpreter& in, CallArgs& c) {
  std::vector<Value> a;
  RETURN_IF_ERROR(BindArgs("strftime_now", c, {{"format", Value()}}, a));
  if (!a[0].is_string()) return TypeError("strftime_now: the format must be a string");
  const std::tm now = in.clock()();
  // strftime's output is bounded by the format: no conversion expands beyond 64 bytes in the C locale.
  constexpr size_t kMaxExpansion = 64;
  std::string buf(a[0].str().size() * kMaxExpansion + 1, '\0');
  const size_t n = a[0].str().empty() ? 0 : std::strftime(buf.data(), buf.size(), a[0].str().c_str(), &now);
  buf.resize(n);
  return Value::String(std::move(buf), a[0].AllTrusted());
}

absl::StatusOr<Value> GRange(Interpreter& in, CallArgs& c) {
  if (!c.kwargs.empty()) return TypeError("range() takes no keyword arguments");
  for (const Value& v : c.positional)
    if (!v.is_int() && !v.is_bool())
      return TypeError(absl::StrCat("'", v.TypeName(), "' object cannot be interpreted as an integer"));
  int64_t start = 0, stop = 0, step = 1;
  if (c.positional.size() == 1)
    stop = c.positional[0].AsInt();
  else if (c.positional.size() == 2 || c.positional.size() == 3) {
    start = c.positional[0].AsInt();
    stop = c.positional[1].AsInt();
    if (c.positional.size() == 3) step = c.positional[2].AsInt();
  } else {
    return TypeError(absl::StrCat("range expected 1 to 3 arguments, got ", c.positional.size()));
  }
  if (step == 0) return TypeError("range() arg 3 must not be zero");
  const long double count =
      step > 0 ? (static_cast<long double>(stop) - start) / step : (static_cast<long double>(start) - stop) / -step;
  if (count > static_cast<long double>(in.limits().max_iterations))
    return absl::ResourceExhaustedError(
        absl::StrCat("range() exceeds the limit of ", in.limits().max_iterations, " loop iterations"));
  List items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) items.push_back(Value::Int(i));
  return Value::MakeList(std::move(items));
}

absl::StatusOr<Value> GNamespace(Interpreter& in, CallArgs& c) {
  Dict attrs;
  for (const Value& v : c.positional) {
    if (!v.is_dict() && !v.is_namespace()) return TypeError("namespace() positional arguments must be mappings");
    for (const auto& [k, x] : v.dict().entries) attrs.Set(k, x);
  }
  for (auto& [k, v] : c.kwargs) attrs.Set(Value::String(k, true), std::move(v));
  Value ns = Value::MakeNamespace(std::move(attrs));
  in.TrackNamespace(ns);
  return ns;
}

absl::StatusOr<Value> GDict(Interpreter&, CallArgs& c) {
  Dict d;
  for (const Value& v : c.positional) {
    if (!v.is_dict()) return TypeError("dict() positional arguments must be mappings");
    for (const auto& [k, x] : v.dict().entries) d.Set(k, x);
  }
  for (auto& [k, v] : c.kwargs) d.Set(Value::String(k, true), std::move(v));
  return Value::MakeDict(std::move(d));
}

Value Make(const char* name, BuiltinFn fn) { return Value::MakeCallable(std::make_shared<BuiltinCallable>(name, fn)); }

}  // namespace

Value FindGlobal(std::string_view name) {
  static const Value* const kGlobals =
      new Value[]{Make("raise_exception", GRaiseException), Make("strftime_now", GStrftimeNow), Make("range", GRange),
                  Make("namespace", GNamespace), Make("dict", GDict)};
  constexpr size_t kCount = 5;
  for (size_t i = 0; i < kCount; ++i)
    if (kGlobals[i].callable()->name == name) return kGlobals[i];
  return Value();
}

}  // namespace jinja
