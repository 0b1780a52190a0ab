// Methods of str, list and dict values (`message.content.strip()`, `d.items()`), with the sandbox's refusal of
// mutating methods.
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/interpreter.h"
#include "services/template/jinja/string_ops.h"
#include "services/template/jinja/unicode.h"

namespace jinja {
namespace {

bool IsMutating(const Value& obj, std::string_view name) {
  static const char* const kList[] = {"append", "extend", "insert",  "pop",         "remove",
                                      "clear",  "sort",   "reverse", "__setitem__", "__delitem__"};
  static const char* const kDict[] = {"update", "pop", "popitem", "setdefault", "clear", "__setitem__", "__delitem__"};
  if (obj.kind() == Value::Kind::kList)
    for (const char* m : kList)
      if (name == m) return true;
  if (obj.is_dict())
    for (const char* m : kDict)
      if (name == m) return true;
  return false;
}

absl::StatusOr<const std::string*> OptionalString(const Value& v, std::string_view what) {
  if (v.is_none() || v.is_undefined()) return nullptr;
  if (!v.is_string()) return TypeError(absl::StrCat(Sv(what), " arg must be None or str"));
  return &v.str();
}

Value ListOf(std::vector<PString> parts) {
  List items;
  items.reserve(parts.size());
  for (PString& p : parts) items.push_back(Value::String(std::move(p)));
  return Value::MakeList(std::move(items));
}

absl::StatusOr<bool> AffixMatch(const Value& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) -> absl::StatusOr<bool> {
    if (!a.is_string()) return TypeError("startswith/endswith first arg must be str or a tuple of str");
    const std::string &t = s.str(), &x = a.str();
    if (x.size() > t.size()) return false;
    return prefix ? t.compare(0, x.size(), x) == 0 : t.compare(t.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list()) {
    for (const Value& a : affix.list()) {
      ASSIGN_OR_RETURN(bool m, one(a));
      if (m) return true;
    }
    return false;
  }
  return one(affix);
}

absl::StatusOr<Value> Pad(Interpreter& in, const Value& s, const Value& width, const Value& fill, int align) {
  if (!width.is_int()) return TypeError("width must be an integer");
  std::string f = fill.is_string() ? fill.str() : " ";
  const int64_t n = static_cast<int64_t>(CodePointCount(s.str()));
  const int64_t total = width.AsInt() - n;
  if (total <= 0) return s;
  RETURN_IF_ERROR(in.CheckSize(static_cast<size_t>(width.AsInt()) * f.size()));
  // CPython's center: left = margin / 2, plus one when both the margin and the width are odd.
  int64_t left = align < 0 ? 0 : align > 0 ? total : total / 2 + (total & width.AsInt() & 1);
  PString out;
  for (int64_t i = 0; i < left; ++i) out.Append(f, true);
  out.Append(s.pstr());
  for (int64_t i = left; i < total; ++i) out.Append(f, true);
  return Value::String(std::move(out));
}

absl::StatusOr<Value> StrFormat(Interpreter& in, const Value& self, CallArgs& args) {
  const std::string& f = self.str();
  PString out;
  size_t auto_index = 0, literal = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if ((f[i] == '{' || f[i] == '}') && i + 1 < f.size() && f[i + 1] == f[i]) {
      out.Append(self.pstr().Substr(literal, i + 1 - literal));
      literal = i + 2;
      ++i;
      continue;
    }
    if (f[i] == '}') return TypeError("Single '}' encountered in format string");
    if (f[i] != '{') continue;
    out.Append(self.pstr().Substr(literal, i - literal));
    const size_t close = f.find('}', i);
    if (close == std::string::npos) return TypeError("Single '{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    const size_t colon = field.find(':');
    if (colon != std::string::npos) field.resize(colon);
    Value arg;
    if (field.empty() || std::isdigit(static_cast<unsigned char>(field[0]))) {
      const size_t k = field.empty() ? auto_index++ : std::stoul(field);
      if (k >= args.positional.size()) return TypeError("Replacement index out of range for positional args tuple");
      arg = args.positional[k];
    } else {
      bool found = false;
      for (const auto& [name, v] : args.kwargs)
        if (name == field) {
          arg = v;
          found = true;
        }
      if (!found) return TypeError(absl::StrCat("'", field, "'"));
    }
    out.Append(arg.ToPString());
    RETURN_IF_ERROR(in.CheckSize(out.size()));
    i = close;
    literal = close + 1;
  }
  out.Append(self.pstr().Substr(literal, f.size() - literal));
  return Value::String(std::move(out));
}

absl::StatusOr<Value> StringMethod(Interpreter& in, const Value& self, std::string_view name, CallArgs& args,
                                   bool* found) {
  std::vector<Value> a;
  auto bind = [&](std::vector<Param> params) { return BindArgs(name, args, params, a); };
  const PString& s = self.pstr();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    RETURN_IF_ERROR(bind({{"chars", Value::None()}}));
    ASSIGN_OR_RETURN(const std::string* chars, OptionalString(a[0], name));
    return Value::String(Strip(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    RETURN_IF_ERROR(bind({{"sep", Value::None()}, {"maxsplit", Value::Int(-1)}}));
    ASSIGN_OR_RETURN(const std::string* sep, OptionalString(a[0], name));
    if (sep != nullptr && sep->empty()) return TypeError("empty separator");
    return ListOf(Split(s, sep, a[1].AsInt(), name == "rsplit"));
  }
  if (name == "splitlines") {
    RETURN_IF_ERROR(bind({{"keepends", Value::Bool(false)}}));
    return ListOf(SplitLines(s, a[0].Truthy()));
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" || name == "swapcase") {
    RETURN_IF_ERROR(bind({}));
    const CaseMode mode = name == "upper"        ? CaseMode::kUpper
                          : name == "lower"      ? CaseMode::kLower
                          : name == "title"      ? CaseMode::kTitle
                          : name == "capitalize" ? CaseMode::kCapitalize
                                                 : CaseMode::kSwap;
    return Value::String(MapCase(s, mode));
  }
  if (name == "startswith" || name == "endswith") {
    RETURN_IF_ERROR(bind({{"prefix", Value()}}));
    ASSIGN_OR_RETURN(bool m, AffixMatch(self, a[0], name == "startswith"));
    return Value::Bool(m);
  }
  if (name == "replace") {
    RETURN_IF_ERROR(bind({{"old", Value()}, {"new", Value()}, {"count", Value::Int(-1)}}));
    if (!a[0].is_string() || !a[1].is_string()) return TypeError("replace() arguments must be str");
    PString r = Replace(s, a[0].pstr(), a[1].pstr(), a[2].AsInt());
    RETURN_IF_ERROR(in.CheckSize(r.size()));
    return Value::String(std::move(r));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    RETURN_IF_ERROR(bind({{"sub", Value()}}));
    if (!a[0].is_string()) return TypeError(absl::StrCat("must be str, not ", a[0].TypeName()));
    const std::string& sub = a[0].str();
    if (name == "count") {
      if (sub.empty()) return Value::Int(static_cast<int64_t>(CodePointCount(s.text())) + 1);
      int64_t n = 0;
      for (size_t p = s.text().find(sub); p != std::string::npos; p = s.text().find(sub, p + sub.size())) ++n;
      return Value::Int(n);
    }
    const size_t hit = name[0] == 'r' ? s.text().rfind(sub) : s.text().find(sub);
    if (hit == std::string::npos) {
      if (name == "index" || name == "rindex") return TypeError("substring not found");
      return Value::Int(-1);
    }
    return Value::Int(CodePointIndex(s.text(), hit));
  }
  if (name == "join") {
    RETURN_IF_ERROR(bind({{"iterable", Value()}}));
    ASSIGN_OR_RETURN(List items, Iterate(a[0]));
    PString out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string())
        return TypeError(absl::StrCat("sequence item ", i, ": expected str instance, ", items[i].TypeName(), " found"));
      if (i) out.Append(s);
      out.Append(items[i].pstr());
      RETURN_IF_ERROR(in.CheckSize(out.size()));
    }
    return Value::String(std::move(out));
  }
  if (name == "format") return StrFormat(in, self, args);
  if (name == "center" || name == "ljust" || name == "rjust") {
    RETURN_IF_ERROR(bind({{"width", Value()}, {"fillchar", Value::String(" ", true)}}));
    return Pad(in, self, a[0], a[1], name == "center" ? 0 : name == "ljust" ? -1 : 1);
  }
  if (name == "zfill") {
    RETURN_IF_ERROR(bind({{"width", Value()}}));
    return Pad(in, self, a[0], Value::String("0", true), 1);
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" ||
      name == "islower") {
    RETURN_IF_ERROR(bind({}));
    const std::string& t = s.text();
    if (t.empty()) return Value::Bool(false);
    bool any_cased = false, all = true;
    for (size_t i = 0, len = 0; i < t.size(); i += len) {
      const char32_t c = DecodeAt(t, i, &len);
      if (name == "isdigit")
        all = all && IsDigitCp(c);
      else if (name == "isalpha")
        all = all && IsAlphaCp(c);
      else if (name == "isalnum")
        all = all && (IsAlphaCp(c) || IsDigitCp(c));
      else if (name == "isspace")
        all = all && IsPyWhitespace(c);
      else if (name == "isupper") {
        all = all && !IsLowerCp(c);
        any_cased = any_cased || IsUpperCp(c);
      } else {
        all = all && !IsUpperCp(c);
        any_cased = any_cased || IsLowerCp(c);
      }
    }
    if (name == "isupper" || name == "islower") return Value::Bool(all && any_cased);
    return Value::Bool(all);
  }
  *found = false;
  return Value();
}

}  // namespace

absl::StatusOr<Value> CallMethod(Interpreter& in, const Value& obj, std::string_view name, CallArgs& args,
                                 bool* found) {
  *found = true;
  if (IsMutating(obj, name))
    return absl::PermissionDeniedError(
        absl::StrCat("access to attribute '", Sv(name), "' of '", obj.TypeName(), "' object is unsafe."));
  std::vector<Value> a;
  if (obj.is_string()) return StringMethod(in, obj, name, args, found);
  if (obj.is_dict()) {
    if (name == "items" || name == "keys" || name == "values") {
      RETURN_IF_ERROR(BindArgs(name, args, {}, a));
      List out;
      out.reserve(obj.dict().entries.size());
      for (const auto& [k, v] : obj.dict().entries) {
        if (name == "items")
          out.push_back(Value::MakeTuple({k, v}));
        else
          out.push_back(name == "keys" ? k : v);
      }
      return Value::MakeList(std::move(out));
    }
    if (name == "get") {
      RETURN_IF_ERROR(BindArgs(name, args, {{"key", Value()}, {"default", Value::None()}}, a));
      if (const Value* v = obj.dict().Find(a[0])) return *v;
      return a[1];
    }
  }
  if (obj.is_list() && (name == "index" || name == "count")) {
    RETURN_IF_ERROR(BindArgs(name, args, {{"value", Value()}}, a));
    int64_t n = 0;
    for (size_t i = 0; i < obj.list().size(); ++i) {
      if (!PyEquals(obj.list()[i], a[0])) continue;
      if (name == "index") return Value::Int(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") return TypeError(absl::StrCat(a[0].Repr(), " is not in list"));
    return Value::Int(n);
  }
  *found = false;
  return Value();
}

}  // namespace jinja
