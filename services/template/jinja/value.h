// Value: the dynamic value of the template engine, with Python's semantics (what jinja2 sees after transformers
// passes JSON-like data). Strings are PStrings, so provenance survives every operation that copies them.
//
//   Value v = Value::FromJson(message_json, /*trusted=*/false);
//   if (v.is_dict()) { const Value* role = v.dict().Find("role"); ... }
//   PString printed = v.ToPString();      // Python str(v)
//
// Lists, dicts and strings are immutable and shared between copies (the sandbox refuses mutating methods);
// only namespace() objects are mutable, through `{% set ns.attr = ... %}`. Not thread-safe: a Value belongs to
// one render.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "services/template/jinja/pstring.h"

namespace jinja {

class Value;
using List = std::vector<Value>;

// An insertion-ordered mapping (Python dict). Lookups are linear: chat data holds small dicts.
struct Dict {
  std::vector<std::pair<Value, Value>> entries;
  const Value* Find(std::string_view key) const;
  const Value* Find(const Value& key) const;
  void Set(Value key, Value value);
};

// Something callable from a template: a builtin, a macro or a call block's `caller`. The interpreter defines
// the concrete kinds.
struct Callable {
  enum class Kind { kBuiltin, kMacro, kCaller };
  explicit Callable(Kind k, std::string n) : kind(k), name(std::move(n)) {}
  virtual ~Callable() = default;
  Kind kind;
  std::string name;
};

// The `loop` variable of one iteration.
struct LoopState {
  std::shared_ptr<const List> items;
  size_t index0 = 0;
  int depth = 1;
};

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kTuple,
    kDict,
    kNamespace,
    kCallable,
    kLoop
  };

  Value() : kind_(Kind::kUndefined), i_(0) {}
  static Value Undefined(std::string hint);
  static Value None() { return Value(Kind::kNone); }
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double f);
  static Value String(PString s);
  static Value String(std::string s, bool trusted) { return String(PString(std::move(s), trusted)); }
  static Value MakeList(List items);
  static Value MakeTuple(List items);
  static Value MakeDict(Dict d);
  static Value MakeNamespace(Dict attrs);
  static Value MakeCallable(std::shared_ptr<Callable> c);
  static Value MakeLoop(std::shared_ptr<LoopState> loop);
  // JSON data: objects become dicts (key order kept), arrays lists; every string gets `trusted`.
  static Value FromJson(const base::Json& json, bool trusted);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList || kind_ == Kind::kTuple; }  // list or tuple
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }
  bool is_loop() const { return kind_ == Kind::kLoop; }

  bool AsBool() const { return b_; }
  // bool/int/float; a float is truncated, saturating at the int64 range (NaN gives 0).
  int64_t AsInt() const { return kind_ == Kind::kFloat ? TruncateFloat(f_) : i_; }
  double AsFloat() const { return kind_ == Kind::kFloat ? f_ : static_cast<double>(i_); }
  const PString& pstr() const { return *static_cast<const PString*>(ptr_.get()); }
  const std::string& str() const { return pstr().text(); }
  const List& list() const { return *static_cast<const List*>(ptr_.get()); }
  std::shared_ptr<const List> shared_list() const { return std::static_pointer_cast<const List>(ptr_); }
  const Dict& dict() const { return *static_cast<const Dict*>(ptr_.get()); }  // dict or namespace
  Dict& namespace_attrs() const { return *static_cast<Dict*>(ptr_.get()); }
  const std::shared_ptr<Callable> callable() const { return std::static_pointer_cast<Callable>(ptr_); }
  LoopState& loop() const { return *static_cast<LoopState*>(ptr_.get()); }
  // The shared object behind a string, list, dict, namespace, callable or loop (Python's `is`).
  const void* identity() const { return ptr_.get(); }
  // Why this value is undefined, for error messages ("'x' is undefined").
  std::string undefined_hint() const;

  bool Truthy() const;
  // Python str(): strings keep their provenance; anything else prints as untrusted text.
  PString ToPString() const;
  std::string ToText() const { return is_string() ? str() : ToPString().text(); }
  // Python repr().
  std::string Repr() const;
  // Python type name, for error messages.
  const char* TypeName() const;
  // json.dumps input; undefined values and callables are errors, as in Python.
  absl::StatusOr<base::Json> ToJson() const;
  // True when every string inside (keys included) is trusted.
  bool AllTrusted() const;

 private:
  static int64_t TruncateFloat(double f) {
    if (!(f == f)) return 0;
    if (f >= 9223372036854775807.0) return INT64_MAX;
    if (f <= -9223372036854775808.0) return INT64_MIN;
    return static_cast<int64_t>(f);
  }
  explicit Value(Kind k) : kind_(k), i_(0) {}
  Kind kind_;
  union {
    bool b_;
    int64_t i_;
    double f_;
  };
  std::shared_ptr<void> ptr_;
};

// Python ==.
bool PyEquals(const Value& a, const Value& b);
// Python <, <=, >, >= via a three-way comparison; an error for unorderable types.
absl::StatusOr<int> PyCompare(const Value& a, const Value& b);

}  // namespace jinja
