// The builtin filters, with jinja2's semantics (strings from data keep their provenance through every filter).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/interpreter.h"
#include "services/template/jinja/parser.h"
#include "services/template/jinja/string_ops.h"
#include "services/template/jinja/unicode.h"

namespace jinja {
namespace {

using Args = std::vector<Value>;

// Binds the filter's arguments after the subject.
absl::Status Bind(std::string_view name, CallArgs& args, std::vector<Param> params, Args& out) {
  params.insert(params.begin(), Param{"value", Value()});
  return BindArgs(name, args, params, out);
}

Value Str(PString s) { return Value::String(std::move(s)); }

absl::StatusOr<Value> FLength(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("length", c, {}, a));
  const Value& v = a[0];
  if (v.is_string()) return Value::Int(static_cast<int64_t>(CodePointCount(v.str())));
  if (v.is_list()) return Value::Int(static_cast<int64_t>(v.list().size()));
  if (v.is_dict()) return Value::Int(static_cast<int64_t>(v.dict().entries.size()));
  if (v.is_undefined()) return Value::Int(0);
  return TypeError(absl::StrCat("object of type '", v.TypeName(), "' has no len()"));
}

absl::StatusOr<Value> FTrim(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("trim", c, {{"chars", Value::None()}}, a));
  const std::string* chars = a[1].is_string() ? &a[1].str() : nullptr;
  return Str(Strip(a[0].ToPString(), chars, true, true));
}

template <CaseMode kMode>
absl::StatusOr<Value> FCase(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("case", c, {}, a));
  return Str(MapCase(a[0].ToPString(), kMode));
}

// jinja2's title filter: words begin after whitespace, '-', '(', '{', '[' or '<'; the first letter of each word
// is upper-cased and the rest lower-cased (unlike str.title, "don't" stays "Don't").
absl::StatusOr<Value> FTitle(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("title", c, {}, a));
  const PString s = a[0].ToPString();
  const std::string& t = s.text();
  PString out;
  bool word_start = true;
  for (size_t i = 0, len = 0; i < t.size(); i += len) {
    const char32_t cp = DecodeAt(t, i, &len);
    const bool sep = IsPyWhitespace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    std::string mapped;
    if (sep)
      mapped = t.substr(i, len);
    else if (word_start)
      AppendUpperFull(mapped, cp);
    else
      AppendLowerFull(mapped, cp);
    out.Append(mapped, s.TrustedAt(i));
    word_start = sep;
  }
  return Str(std::move(out));
}

absl::StatusOr<Value> FString(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("string", c, {}, a));
  return Str(a[0].ToPString());
}

absl::StatusOr<Value> FDefault(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("default", c, {{"default_value", Value::String("", true)}, {"boolean", Value::Bool(false)}}, a));
  if (a[0].is_undefined() || (a[2].Truthy() && !a[0].Truthy())) return a[1];
  return a[0];
}

absl::StatusOr<Value> FJoin(Interpreter& in, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("join", c, {{"d", Value::String("", true)}, {"attribute", Value::None()}}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  const PString sep = a[1].ToPString();
  PString out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.Append(sep);
    Value item = items[i];
    if (!a[2].is_none()) {
      ASSIGN_OR_RETURN(item, GetItem(item, a[2]));
    }
    out.Append(item.ToPString());
    RETURN_IF_ERROR(in.CheckSize(out.size()));
  }
  return Str(std::move(out));
}

absl::StatusOr<Value> FItems(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("items", c, {}, a));
  if (a[0].is_undefined()) return Value::MakeList({});
  if (!a[0].is_dict()) return TypeError("Can only get item pairs from a mapping.");
  List out;
  for (const auto& [k, v] : a[0].dict().entries) out.push_back(Value::MakeTuple({k, v}));
  return Value::MakeList(std::move(out));
}

absl::StatusOr<Value> FList(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("list", c, {}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  return Value::MakeList(std::move(items));
}

absl::StatusOr<Value> FFirst(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("first", c, {}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

absl::StatusOr<Value> FLast(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("last", c, {}, a));
  if (a[0].is_undefined()) return UndefinedError(a[0]);
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

absl::StatusOr<Value> FReverse(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("reverse", c, {}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  std::reverse(items.begin(), items.end());
  if (!a[0].is_string()) return Value::MakeList(std::move(items));
  PString out;
  for (const Value& ch : items) out.Append(ch.pstr());
  return Str(std::move(out));
}

absl::StatusOr<Value> FReplace(Interpreter& in, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("replace", c, {{"old", Value()}, {"new", Value()}, {"count", Value::None()}}, a));
  PString r = Replace(a[0].ToPString(), a[1].ToPString(), a[2].ToPString(), a[3].is_none() ? -1 : a[3].AsInt());
  RETURN_IF_ERROR(in.CheckSize(r.size()));
  return Str(std::move(r));
}

absl::StatusOr<Value> FToJson(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("tojson", c,
                       {{"ensure_ascii", Value::Bool(false)},
                        {"indent", Value::None()},
                        {"separators", Value::None()},
                        {"sort_keys", Value::Bool(false)}},
                       a));
  ASSIGN_OR_RETURN(base::Json j, a[0].ToJson());
  base::Json::DumpOptions o;
  o.ensure_ascii = a[1].Truthy();
  if (a[2].is_int())
    o.indent = static_cast<int>(std::max<int64_t>(0, a[2].AsInt()));
  else if (!a[2].is_none())
    return TypeError("tojson: indent must be an integer");
  if (a[3].is_list() && a[3].list().size() == 2 && a[3].list()[0].is_string() && a[3].list()[1].is_string()) {
    o.item_separator = a[3].list()[0].str();
    o.key_separator = a[3].list()[1].str();
  }
  o.sort_keys = a[4].Truthy();
  return Value::String(j.Dump(o), a[0].AllTrusted());
}

// int(x) of a float: truncation; NaN and infinity give the filter's default (jinja2 catches the error), values
// beyond 64 bits are an error (Python's integers are unbounded, ours are not).
absl::StatusOr<Value> FloatToInt(double d, const Value& fallback) {
  if (!std::isfinite(d)) return fallback;
  constexpr double kLimit = 9223372036854775808.0;  // 2^63
  if (d >= kLimit || d < -kLimit) return TypeError("integer overflow: the value does not fit in 64 bits");
  return Value::Int(static_cast<int64_t>(d));
}

absl::StatusOr<Value> FInt(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("int", c, {{"default", Value::Int(0)}, {"base", Value::Int(10)}}, a));
  const Value& v = a[0];
  if (v.is_int() || v.is_bool()) return Value::Int(v.AsInt());
  if (v.is_float()) return FloatToInt(v.AsFloat(), a[1]);
  if (v.is_string()) {
    std::string t = Strip(v.pstr(), nullptr, true, true).text();
    char* end = nullptr;
    errno = 0;
    const long long i = std::strtoll(t.c_str(), &end, static_cast<int>(a[2].AsInt()));
    if (!t.empty() && end == t.c_str() + t.size() && errno == 0) return Value::Int(i);
    const double d = std::strtod(t.c_str(), &end);
    if (!t.empty() && end == t.c_str() + t.size()) return FloatToInt(d, a[1]);
  }
  return a[1];
}

absl::StatusOr<Value> FFloat(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("float", c, {{"default", Value::Float(0.0)}}, a));
  if (a[0].is_number()) return Value::Float(a[0].AsFloat());
  if (a[0].is_string()) {
    const std::string t = Strip(a[0].pstr(), nullptr, true, true).text();
    char* end = nullptr;
    const double d = std::strtod(t.c_str(), &end);
    if (!t.empty() && end == t.c_str() + t.size()) return Value::Float(d);
  }
  return a[1];
}

absl::StatusOr<Value> FAbs(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("abs", c, {}, a));
  if (a[0].is_float()) return Value::Float(std::fabs(a[0].AsFloat()));
  if (a[0].is_number()) return Value::Int(std::llabs(a[0].AsInt()));
  return TypeError(absl::StrCat("bad operand type for abs(): '", a[0].TypeName(), "'"));
}

absl::StatusOr<Value> FRound(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("round", c, {{"precision", Value::Int(0)}, {"method", Value::String("common", true)}}, a));
  if (!a[0].is_number()) return TypeError("round: a number is required");
  const double scale = std::pow(10.0, static_cast<double>(a[1].AsInt()));
  double x = a[0].AsFloat() * scale;
  const std::string& method = a[2].ToText();
  // Python's round() rounds half to even; nearbyint does so in the default rounding mode.
  x = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
  return Value::Float(x / scale);
}

// Attribute lookup for map/selectattr/sort: "a.b" walks nested attributes; integer parts index lists.
absl::StatusOr<Value> Attribute(const Value& item, const Value& attribute) {
  if (!attribute.is_string()) return GetItem(item, attribute);
  Value v = item;
  const std::string& path = attribute.str();
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    ASSIGN_OR_RETURN(v, digits ? GetItem(v, Value::Int(std::stoll(part))) : GetItem(v, Value::String(part, true)));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

absl::StatusOr<Value> FAttr(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("attr", c, {{"name", Value()}}, a));
  if (!a[1].is_string()) return TypeError("attr: name must be a string");
  // Attribute lookup only: a dict's keys are items, not attributes.
  if (a[0].is_dict()) return Value::Undefined(absl::StrCat("'dict object' has no attribute '", a[1].str(), "'"));
  return GetAttr(a[0], a[1].str());
}

absl::StatusOr<Value> FMap(Interpreter& in, CallArgs& c) {
  if (c.positional.empty()) return TypeError("map: no value");
  ASSIGN_OR_RETURN(List items, Iterate(c.positional[0]));
  List out;
  out.reserve(items.size());
  const Value* attribute = nullptr;
  const Value* dflt = nullptr;
  for (const auto& [k, v] : c.kwargs) {
    if (k == "attribute")
      attribute = &v;
    else if (k == "default")
      dflt = &v;
  }
  if (attribute != nullptr) {
    for (const Value& item : items) {
      ASSIGN_OR_RETURN(Value v, Attribute(item, *attribute));
      out.push_back(v.is_undefined() && dflt != nullptr ? *dflt : v);
    }
    return Value::MakeList(std::move(out));
  }
  if (c.positional.size() < 2 || !c.positional[1].is_string()) return TypeError("map: a filter name is required");
  const std::string name = c.positional[1].str();
  for (const Value& item : items) {
    CallArgs fa;
    fa.positional.push_back(item);
    fa.positional.insert(fa.positional.end(), c.positional.begin() + 2, c.positional.end());
    fa.kwargs = c.kwargs;
    ASSIGN_OR_RETURN(Value v, in.ApplyFilter(name, fa));
    out.push_back(std::move(v));
  }
  return Value::MakeList(std::move(out));
}

// select / reject / selectattr / rejectattr.
template <bool kSelect, bool kAttr>
absl::StatusOr<Value> FSelect(Interpreter& in, CallArgs& c) {
  if (c.positional.empty()) return TypeError("select: no value");
  ASSIGN_OR_RETURN(List items, Iterate(c.positional[0]));
  size_t next = 1;
  Value attribute;
  if (kAttr) {
    if (c.positional.size() < 2) return TypeError("selectattr: an attribute is required");
    attribute = c.positional[next++];
  }
  std::string test;
  if (next < c.positional.size()) {
    if (!c.positional[next].is_string()) return TypeError("select: the test name must be a string");
    test = c.positional[next++].str();
  }
  List out;
  for (const Value& item : items) {
    Value subject = item;
    if (kAttr) {
      ASSIGN_OR_RETURN(subject, Attribute(item, attribute));
    }
    bool ok;
    if (test.empty()) {
      ok = subject.Truthy();
    } else {
      CallArgs ta;
      ta.positional.push_back(subject);
      ta.positional.insert(ta.positional.end(), c.positional.begin() + next, c.positional.end());
      ta.kwargs = c.kwargs;
      ASSIGN_OR_RETURN(ok, in.ApplyTest(test, ta));
    }
    if (ok == kSelect) out.push_back(item);
  }
  return Value::MakeList(std::move(out));
}

// Sort key comparison: case-insensitive for strings unless asked otherwise.
absl::StatusOr<int> CompareKeys(const Value& x, const Value& y, bool case_sensitive) {
  if (!case_sensitive && x.is_string() && y.is_string()) {
    return PyCompare(Value::String(MapCase(x.pstr(), CaseMode::kLower)),
                     Value::String(MapCase(y.pstr(), CaseMode::kLower)));
  }
  return PyCompare(x, y);
}

absl::Status SortValues(List& items, const std::vector<Value>& keys, bool reverse, bool case_sensitive) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  absl::Status error;
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) {
    absl::StatusOr<int> c = CompareKeys(keys[i], keys[j], case_sensitive);
    if (!c.ok()) {
      error = c.status();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  RETURN_IF_ERROR(error);
  List sorted;
  for (size_t i : order) sorted.push_back(std::move(items[i]));
  items = std::move(sorted);
  return absl::OkStatus();
}

absl::StatusOr<Value> FSort(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(
      Bind("sort", c,
           {{"reverse", Value::Bool(false)}, {"case_sensitive", Value::Bool(false)}, {"attribute", Value::None()}}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  std::vector<Value> keys;
  for (const Value& item : items) {
    if (a[3].is_none())
      keys.push_back(item);
    else {
      ASSIGN_OR_RETURN(keys.emplace_back(), Attribute(item, a[3]));
    }
  }
  RETURN_IF_ERROR(SortValues(items, keys, a[1].Truthy(), a[2].Truthy()));
  return Value::MakeList(std::move(items));
}

absl::StatusOr<Value> FDictSort(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind(
      "dictsort", c,
      {{"case_sensitive", Value::Bool(false)}, {"by", Value::String("key", true)}, {"reverse", Value::Bool(false)}},
      a));
  if (!a[0].is_dict()) return TypeError("dictsort: a mapping is required");
  List items;
  std::vector<Value> keys;
  const bool by_value = a[2].ToText() == "value";
  for (const auto& [k, v] : a[0].dict().entries) {
    items.push_back(Value::MakeTuple({k, v}));
    keys.push_back(by_value ? v : k);
  }
  RETURN_IF_ERROR(SortValues(items, keys, a[3].Truthy(), a[1].Truthy()));
  return Value::MakeList(std::move(items));
}

absl::StatusOr<Value> FUnique(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("unique", c, {{"case_sensitive", Value::Bool(false)}, {"attribute", Value::None()}}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  List out, seen;
  for (const Value& item : items) {
    Value key = item;
    if (!a[2].is_none()) {
      ASSIGN_OR_RETURN(key, Attribute(item, a[2]));
    }
    if (!a[1].Truthy() && key.is_string()) key = Value::String(MapCase(key.pstr(), CaseMode::kLower));
    bool dup = false;
    for (const Value& s : seen) dup = dup || PyEquals(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::MakeList(std::move(out));
}

template <bool kMin>
absl::StatusOr<Value> FMinMax(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("min", c, {{"case_sensitive", Value::Bool(false)}, {"attribute", Value::None()}}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  if (items.empty())
    return Value::Undefined(kMin ? "No aggregated item, sequence was empty."
                                 : "No aggregated item, sequence was empty.");
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    Value x = items[i], y = items[best];
    if (!a[2].is_none()) {
      ASSIGN_OR_RETURN(x, Attribute(x, a[2]));
      ASSIGN_OR_RETURN(y, Attribute(y, a[2]));
    }
    ASSIGN_OR_RETURN(int cmp, CompareKeys(x, y, a[1].Truthy()));
    if (kMin ? cmp < 0 : cmp > 0) best = i;
  }
  return items[best];
}

absl::StatusOr<Value> FSum(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("sum", c, {{"attribute", Value::None()}, {"start", Value::Int(0)}}, a));
  ASSIGN_OR_RETURN(List items, Iterate(a[0]));
  Value total = a[2];
  for (const Value& item : items) {
    Value x = item;
    if (!a[1].is_none()) {
      ASSIGN_OR_RETURN(x, Attribute(item, a[1]));
    }
    ASSIGN_OR_RETURN(total, BinaryOp(BinOp::kAdd, total, x, std::numeric_limits<size_t>::max()));
  }
  return total;
}

absl::StatusOr<Value> FIndent(Interpreter& in, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(
      Bind("indent", c, {{"width", Value::Int(4)}, {"first", Value::Bool(false)}, {"blank", Value::Bool(false)}}, a));
  PString indention;
  if (a[1].is_string())
    indention = a[1].pstr();
  else
    indention = PString(std::string(static_cast<size_t>(std::clamp<int64_t>(a[1].AsInt(), 0, 1 << 16)), ' '), true);
  PString s = a[0].ToPString();
  s.Append("\n", true);
  std::vector<PString> lines = SplitLines(s, false);
  PString out;
  const PString newline("\n", true);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out.Append(newline);
    if (i > 0 && (a[3].Truthy() || !lines[i].empty())) out.Append(indention);
    out.Append(lines[i]);
    RETURN_IF_ERROR(in.CheckSize(out.size()));
  }
  if (a[2].Truthy()) {
    PString first = indention;
    first.Append(out);
    out = std::move(first);
  }
  return Str(std::move(out));
}

absl::StatusOr<Value> FEscape(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("escape", c, {}, a));
  PString s = a[0].ToPString();
  for (const auto& [from, to] : std::vector<std::pair<const char*, const char*>>{
           {"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&#34;"}, {"'", "&#39;"}})
    s = Replace(s, PString(from, true), PString(to, s.AllTrusted()), -1);
  return Str(std::move(s));
}

absl::StatusOr<Value> FSafe(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("safe", c, {}, a));
  return a[0];
}

absl::StatusOr<Value> FCenter(Interpreter& in, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("center", c, {{"width", Value::Int(80)}}, a));
  CallArgs m;
  m.positional.push_back(a[1]);
  bool found;
  return CallMethod(in, Value::String(a[0].ToPString()), "center", m, &found);
}

absl::StatusOr<Value> FFormat(Interpreter& in, CallArgs& c) {
  if (c.positional.empty()) return TypeError("format: no value");
  Value fmt = Value::String(c.positional[0].ToPString());
  Value args;
  if (!c.kwargs.empty()) {
    Dict d;
    for (auto& [k, v] : c.kwargs) d.Set(Value::String(k, true), v);
    args = Value::MakeDict(std::move(d));
  } else {
    args = Value::MakeTuple(List(c.positional.begin() + 1, c.positional.end()));
  }
  return BinaryOp(BinOp::kMod, fmt, args, in.limits().max_output_bytes);
}

absl::StatusOr<Value> FWordCount(Interpreter&, CallArgs& c) {
  Args a;
  RETURN_IF_ERROR(Bind("wordcount", c, {}, a));
  const std::string t = a[0].ToText();
  int64_t n = 0;
  bool in_word = false;
  for (size_t i = 0, len = 0; i < t.size(); i += len) {
    const char32_t cp = DecodeAt(t, i, &len);
    const bool w = IsAlphaCp(cp) || IsDigitCp(cp) || cp == '_' || cp >= 0x80;
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::Int(n);
}

struct FilterEntry {
  const char* name;
  FilterFn fn;
};

const FilterEntry kFilters[] = {
    {"abs", FAbs},
    {"attr", FAttr},
    {"capitalize", FCase<CaseMode::kCapitalize>},
    {"center", FCenter},
    {"count", FLength},
    {"d", FDefault},
    {"default", FDefault},
    {"dictsort", FDictSort},
    {"e", FEscape},
    {"escape", FEscape},
    {"first", FFirst},
    {"float", FFloat},
    {"format", FFormat},
    {"indent", FIndent},
    {"int", FInt},
    {"items", FItems},
    {"join", FJoin},
    {"last", FLast},
    {"length", FLength},
    {"list", FList},
    {"lower", FCase<CaseMode::kLower>},
    {"map", FMap},
    {"max", FMinMax<false>},
    {"min", FMinMax<true>},
    {"reject", FSelect<false, false>},
    {"rejectattr", FSelect<false, true>},
    {"replace", FReplace},
    {"reverse", FReverse},
    {"round", FRound},
    {"safe", FSafe},
    {"select", FSelect<true, false>},
    {"selectattr", FSelect<true, true>},
    {"sort", FSort},
    {"string", FString},
    {"sum", FSum},
    {"title", FTitle},
    {"tojson", FToJson},
    {"trim", FTrim},
    {"unique", FUnique},
    {"upper", FCase<CaseMode::kUpper>},
    {"wordcount", FWordCount},
};

}  // namespace

FilterFn FindFilter(std::string_view name) {
  for (const FilterEntry& f : kFilters)
    if (name == f.name) return f.fn;
  return nullptr;
}

}  // namespace jinja
