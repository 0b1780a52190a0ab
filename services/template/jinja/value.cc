#include "services/template/jinja/value.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "services/template/jinja/unicode.h"

namespace jinja {

const Value* Dict::Find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k.is_string() && k.str() == key) return &v;
  return nullptr;
}

const Value* Dict::Find(const Value& key) const {
  if (key.is_string()) return Find(std::string_view(key.str()));
  for (const auto& [k, v] : entries)
    if (PyEquals(k, key)) return &v;
  return nullptr;
}

void Dict::Set(Value key, Value value) {
  for (auto& [k, v] : entries) {
    if (PyEquals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

Value Value::Undefined(std::string hint) {
  Value v(Kind::kUndefined);
  v.ptr_ = std::make_shared<std::string>(std::move(hint));
  return v;
}
Value Value::Bool(bool b) {
  Value v(Kind::kBool);
  v.i_ = 0;
  v.b_ = b;
  return v;
}
Value Value::Int(int64_t i) {
  Value v(Kind::kInt);
  v.i_ = i;
  return v;
}
Value Value::Float(double f) {
  Value v(Kind::kFloat);
  v.f_ = f;
  return v;
}
Value Value::String(PString s) {
  Value v(Kind::kString);
  v.ptr_ = std::make_shared<PString>(std::move(s));
  return v;
}
Value Value::MakeList(List items) {
  Value v(Kind::kList);
  v.ptr_ = std::make_shared<List>(std::move(items));
  return v;
}
Value Value::MakeTuple(List items) {
  Value v(Kind::kTuple);
  v.ptr_ = std::make_shared<List>(std::move(items));
  return v;
}
Value Value::MakeDict(Dict d) {
  Value v(Kind::kDict);
  v.ptr_ = std::make_shared<Dict>(std::move(d));
  return v;
}
Value Value::MakeNamespace(Dict attrs) {
  Value v(Kind::kNamespace);
  v.ptr_ = std::make_shared<Dict>(std::move(attrs));
  return v;
}
Value Value::MakeCallable(std::shared_ptr<Callable> c) {
  Value v(Kind::kCallable);
  v.ptr_ = std::move(c);
  return v;
}
Value Value::MakeLoop(std::shared_ptr<LoopState> loop) {
  Value v(Kind::kLoop);
  v.ptr_ = std::move(loop);
  return v;
}

Value Value::FromJson(const base::Json& j, bool trusted) {
  switch (j.type()) {
    case base::Json::Type::kNull:
      return None();
    case base::Json::Type::kBool:
      return Bool(j.AsBool());
    case base::Json::Type::kInt:
      return Int(j.AsInt());
    case base::Json::Type::kFloat:
      return Float(j.AsDouble());
    case base::Json::Type::kString:
      return String(j.AsString(), trusted);
    case base::Json::Type::kArray: {
      List items;
      items.reserve(j.items().size());
      for (const base::Json& x : j.items()) items.push_back(FromJson(x, trusted));
      return MakeList(std::move(items));
    }
    case base::Json::Type::kObject: {
      Dict d;
      d.entries.reserve(j.members().size());
      for (const auto& [k, v] : j.members()) d.entries.emplace_back(String(k, trusted), FromJson(v, trusted));
      return MakeDict(std::move(d));
    }
  }
  return None();
}

std::string Value::undefined_hint() const {
  if (kind_ == Kind::kUndefined && ptr_) return *static_cast<const std::string*>(ptr_.get());
  return "value is undefined";
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return b_;
    case Kind::kInt:
      return i_ != 0;
    case Kind::kFloat:
      return f_ != 0;
    case Kind::kString:
      return !str().empty();
    case Kind::kList:
    case Kind::kTuple:
      return !list().empty();
    case Kind::kDict:
      return !dict().entries.empty();
    default:
      return true;
  }
}

static void AppendPyStringRepr(std::string& out, std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out += quote;
  for (size_t i = 0, len = 0; i < s.size(); i += len) {
    const char32_t c = DecodeAt(s, i, &len);
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) {
      absl::StrAppend(&out, "\\x", absl::Hex(static_cast<uint32_t>(c), absl::kZeroPad2));
    } else if (c == 0x2028 || c == 0x2029) {
      absl::StrAppend(&out, "\\u", absl::Hex(static_cast<uint32_t>(c), absl::kZeroPad4));
    } else {
      out.append(s.substr(i, len));
    }
  }
  out += quote;
}

static void AppendRepr(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kString:
      AppendPyStringRepr(out, v.str());
      return;
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      const bool tuple = v.kind() == Value::Kind::kTuple;
      out += tuple ? '(' : '[';
      for (size_t i = 0; i < v.list().size(); ++i) {
        if (i) out += ", ";
        AppendRepr(out, v.list()[i]);
      }
      if (tuple && v.list().size() == 1) out += ',';
      out += tuple ? ')' : ']';
      return;
    }
    case Value::Kind::kDict: {
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.dict().entries) {
        if (!first) out += ", ";
        first = false;
        AppendRepr(out, k);
        out += ": ";
        AppendRepr(out, x);
      }
      out += '}';
      return;
    }
    default:
      out += v.ToPString().text();
  }
}

std::string Value::Repr() const {
  std::string out;
  AppendRepr(out, *this);
  return out;
}

PString Value::ToPString() const {
  switch (kind_) {
    case Kind::kString:
      return pstr();
    case Kind::kUndefined:
      return PString();
    case Kind::kNone:
      return PString("None", false);
    case Kind::kBool:
      return PString(b_ ? "True" : "False", false);
    case Kind::kInt:
      return PString(std::to_string(i_), false);
    case Kind::kFloat:  // Python's str(); base::PythonFloatRepr spells NaN and infinity as json.dumps does
      if (std::isnan(f_)) return PString("nan", false);
      if (std::isinf(f_)) return PString(f_ > 0 ? "inf" : "-inf", false);
      return PString(base::PythonFloatRepr(f_), false);
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kDict:
      return PString(Repr(), false);
    case Kind::kNamespace:
      return PString("<Namespace>", false);
    case Kind::kCallable:
      return PString("<function " + callable()->name + ">", false);
    case Kind::kLoop:
      return PString("<LoopContext>", false);
  }
  return PString();
}

const char* Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      return "list";
    case Kind::kTuple:
      return "tuple";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return "Namespace";
    case Kind::kCallable:
      return "function";
    case Kind::kLoop:
      return "LoopContext";
  }
  return "object";
}

absl::StatusOr<base::Json> Value::ToJson() const {
  switch (kind_) {
    case Kind::kNone:
      return base::Json();
    case Kind::kBool:
      return base::Json(b_);
    case Kind::kInt:
      return base::Json(i_);
    case Kind::kFloat:
      return base::Json(f_);
    case Kind::kString:
      return base::Json(str());
    case Kind::kList:
    case Kind::kTuple: {
      base::Json::Array a;
      a.reserve(list().size());
      for (const Value& x : list()) {
        auto j = x.ToJson();
        if (!j.ok()) return j.status();
        a.push_back(std::move(*j));
      }
      return base::Json(std::move(a));
    }
    case Kind::kDict: {
      base::Json::Object o;
      for (const auto& [k, x] : dict().entries) {
        std::string key;
        if (k.is_string())
          key = k.str();
        else if (k.is_bool())
          key = k.AsBool() ? "true" : "false";
        else if (k.is_none())
          key = "null";
        else if (k.is_int() || k.is_float())
          key = k.ToText();
        else
          return absl::InvalidArgumentError(
              absl::StrCat("keys must be str, int, float, bool or None, not ", k.TypeName()));
        auto j = x.ToJson();
        if (!j.ok()) return j.status();
        o.emplace_back(std::move(key), std::move(*j));
      }
      return base::Json::MakeObject(std::move(o));
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("Object of type ", TypeName(), " is not JSON serializable"));
  }
}

bool Value::AllTrusted() const {
  switch (kind_) {
    case Kind::kString:
      return pstr().AllTrusted();
    case Kind::kList:
    case Kind::kTuple:
      for (const Value& x : list())
        if (!x.AllTrusted()) return false;
      return true;
    case Kind::kDict:
    case Kind::kNamespace:
      for (const auto& [k, x] : dict().entries)
        if (!k.AllTrusted() || !x.AllTrusted()) return false;
      return true;
    default:
      return true;
  }
}

bool PyEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.AsFloat() == b.AsFloat();
    return a.AsInt() == b.AsInt();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
      return a.str() == b.str();
    case Value::Kind::kList:
    case Value::Kind::kTuple: {
      const List &x = a.list(), &y = b.list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i)
        if (!PyEquals(x[i], y[i])) return false;
      return true;
    }
    case Value::Kind::kDict: {
      const Dict &x = a.dict(), &y = b.dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* w = y.Find(k);
        if (w == nullptr || !PyEquals(v, *w)) return false;
      }
      return true;
    }
    case Value::Kind::kNamespace:
      return &a.dict() == &b.dict();
    case Value::Kind::kCallable:
      return a.callable() == b.callable();
    case Value::Kind::kLoop:
      return &a.loop() == &b.loop();
    default:
      return false;
  }
}

absl::StatusOr<int> PyCompare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.AsFloat(), y = b.AsFloat();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const int64_t x = a.AsInt(), y = b.AsInt();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.str().compare(b.str());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.kind() == b.kind() && a.is_list()) {
    const List &x = a.list(), &y = b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (PyEquals(x[i], y[i])) continue;
      return PyCompare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'<' not supported between instances of '", a.TypeName(), "' and '", b.TypeName(), "'"));
}

}  // namespace jinja
