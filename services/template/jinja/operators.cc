// Python-semantics operators, subscripts, slices and iteration for the interpreter.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/template/jinja/absl_compat.h"
#include "services/template/jinja/interpreter.h"
#include "services/template/jinja/unicode.h"

namespace jinja {
namespace {

absl::Status SizeError(size_t max_bytes) {
  return absl::ResourceExhaustedError(absl::StrCat("template output exceeds the limit of ", max_bytes, " bytes"));
}

absl::Status Unsupported(const char* op, const Value& a, const Value& b) {
  if (a.is_undefined()) return UndefinedError(a);
  if (b.is_undefined()) return UndefinedError(b);
  if (a.is_string() && std::string_view(op) == "+")
    return TypeError(absl::StrCat("can only concatenate str (not \"", b.TypeName(), "\") to str"));
  return TypeError(
      absl::StrCat("unsupported operand type(s) for ", op, ": '", a.TypeName(), "' and '", b.TypeName(), "'"));
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t FloorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// printf-style `str % args` for the conversions chat templates use (%s %r %d %i %f %x %%).
absl::StatusOr<Value> PercentFormat(const PString& fmt, const Value& args, size_t max_bytes) {
  List items;
  const Dict* mapping = nullptr;
  if (args.kind() == Value::Kind::kTuple)
    items = args.list();
  else if (args.is_dict())
    mapping = &args.dict();
  else
    items.push_back(args);
  size_t next = 0;
  PString out;
  const std::string& f = fmt.text();
  size_t literal_start = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') continue;
    out.Append(fmt.Substr(literal_start, i - literal_start));
    size_t j = i + 1;
    if (j < f.size() && f[j] == '%') {
      out.Append(fmt.Substr(j, 1));
      i = j;
      literal_start = j + 1;
      continue;
    }
    Value arg;
    if (j < f.size() && f[j] == '(' && mapping != nullptr) {
      const size_t close = f.find(')', j);
      if (close == std::string::npos) return TypeError("incomplete format key");
      const Value* v = mapping->Find(std::string_view(f).substr(j + 1, close - j - 1));
      if (v == nullptr) return TypeError(absl::StrCat("format key '", f.substr(j + 1, close - j - 1), "' missing"));
      arg = *v;
      j = close + 1;
    } else {
      if (next >= items.size()) return TypeError("not enough arguments for format string");
      arg = items[next++];
    }
    std::string spec = "%";
    while (j < f.size() && std::strchr("-+ 0#.0123456789", f[j]) != nullptr) spec += f[j++];
    if (j >= f.size()) return TypeError("incomplete format");
    const char conv = f[j];
    if (conv == 's' || conv == 'r') {
      // Flags and width pad with spaces (left-aligned with '-'); a precision truncates. Counted in code points.
      PString text = conv == 's' ? arg.ToPString() : PString(arg.Repr(), arg.AllTrusted());
      size_t k = 1;  // spec is "%" flags width [. precision]
      bool left = false;
      for (; k < spec.size() && std::strchr("-+ 0#", spec[k]) != nullptr; ++k) left = left || spec[k] == '-';
      const size_t width = std::min<size_t>(static_cast<size_t>(std::atoll(spec.c_str() + k)), max_bytes);
      if (const size_t dot = spec.find('.'); dot != std::string::npos) {
        const size_t precision = static_cast<size_t>(std::atoll(spec.c_str() + dot + 1));
        text = text.Substr(0, ByteOffsetOfCodePoint(text.text(), precision));
      }
      const size_t len = CodePointCount(text.text());
      const std::string pad = width > len ? std::string(width - len, ' ') : std::string();
      if (!left) out.Append(pad, true);
      out.Append(text);
      if (left) out.Append(pad, true);
    } else if (conv == 'd' || conv == 'i' || conv == 'x' || conv == 'X' || conv == 'o') {
      if (!arg.is_number())
        return TypeError(
            absl::StrCat("%", std::string(1, conv), " format: a number is required, not ", arg.TypeName()));
      char buf[128];
      const std::string c_spec = spec + "ll" + (conv == 'i' ? 'd' : conv);
      std::snprintf(buf, sizeof buf, c_spec.c_str(), static_cast<long long>(arg.AsInt()));
      out.Append(buf, false);
    } else if (conv == 'f' || conv == 'F' || conv == 'e' || conv == 'g') {
      if (!arg.is_number()) return TypeError("must be real number, not " + std::string(arg.TypeName()));
      char buf[128];
      std::snprintf(buf, sizeof buf, (spec + conv).c_str(), arg.AsFloat());
      out.Append(buf, false);
    } else {
      return TypeError(absl::StrCat("unsupported format character '", std::string(1, conv), "'"));
    }
    if (out.size() > max_bytes) return SizeError(max_bytes);
    i = j;
    literal_start = j + 1;
  }
  out.Append(fmt.Substr(literal_start, f.size() - literal_start));
  if (mapping == nullptr && next < items.size())
    return TypeError("not all arguments converted during string formatting");
  return Value::String(std::move(out));
}

absl::StatusOr<Value> Repeat(const Value& seq, int64_t times, size_t max_bytes) {
  if (times <= 0) return seq.is_string() ? Value::String("", true) : Value::MakeList({});
  if (seq.is_string()) {
    if (seq.str().size() * static_cast<uint64_t>(times) > max_bytes) return SizeError(max_bytes);
    PString out;
    for (int64_t i = 0; i < times; ++i) out.Append(seq.pstr());
    return Value::String(std::move(out));
  }
  if (seq.list().size() * static_cast<uint64_t>(times) > max_bytes) return SizeError(max_bytes);
  List out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
  return seq.kind() == Value::Kind::kTuple ? Value::MakeTuple(std::move(out)) : Value::MakeList(std::move(out));
}

}  // namespace

absl::Status UndefinedError(const Value& v) { return absl::InvalidArgumentError(v.undefined_hint()); }
absl::Status TypeError(std::string_view message) { return absl::InvalidArgumentError(Sv(message)); }

absl::StatusOr<Value> BinaryOp(BinOp op, const Value& a, const Value& b, size_t max_bytes) {
  const bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  const bool nums = a.is_number() && b.is_number();
  switch (op) {
    case BinOp::kConcat: {
      PString out = a.ToPString();
      const PString right = b.ToPString();
      if (out.size() + right.size() > max_bytes) return SizeError(max_bytes);
      out.Append(right);
      return Value::String(std::move(out));
    }
    case BinOp::kAdd:
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.AsInt(), b.AsInt(), &r)) return TypeError("integer overflow");
        return Value::Int(r);
      }
      if (nums) return Value::Float(a.AsFloat() + b.AsFloat());
      if (a.is_string() && b.is_string()) {
        if (a.str().size() + b.str().size() > max_bytes) return SizeError(max_bytes);
        PString out = a.pstr();
        out.Append(b.pstr());
        return Value::String(std::move(out));
      }
      if (a.is_list() && a.kind() == b.kind()) {
        List out = a.list();
        out.insert(out.end(), b.list().begin(), b.list().end());
        return a.kind() == Value::Kind::kTuple ? Value::MakeTuple(std::move(out)) : Value::MakeList(std::move(out));
      }
      return Unsupported("+", a, b);
    case BinOp::kSub:
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.AsInt(), b.AsInt(), &r)) return TypeError("integer overflow");
        return Value::Int(r);
      }
      if (nums) return Value::Float(a.AsFloat() - b.AsFloat());
      return Unsupported("-", a, b);
    case BinOp::kMul:
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.AsInt(), b.AsInt(), &r)) return TypeError("integer overflow");
        return Value::Int(r);
      }
      if (nums) return Value::Float(a.AsFloat() * b.AsFloat());
      if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return Repeat(a, b.AsInt(), max_bytes);
      if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return Repeat(b, a.AsInt(), max_bytes);
      return Unsupported("*", a, b);
    case BinOp::kDiv:
      if (nums) {
        if (b.AsFloat() == 0) return TypeError("division by zero");
        return Value::Float(a.AsFloat() / b.AsFloat());
      }
      return Unsupported("/", a, b);
    case BinOp::kFloorDiv:
      if (ints) {
        if (b.AsInt() == 0) return TypeError("integer division or modulo by zero");
        return Value::Int(FloorDiv(a.AsInt(), b.AsInt()));
      }
      if (nums) {
        if (b.AsFloat() == 0) return TypeError("float floor division by zero");
        return Value::Float(std::floor(a.AsFloat() / b.AsFloat()));
      }
      return Unsupported("//", a, b);
    case BinOp::kMod:
      if (ints) {
        if (b.AsInt() == 0) return TypeError("integer division or modulo by zero");
        return Value::Int(FloorMod(a.AsInt(), b.AsInt()));
      }
      if (nums) {
        if (b.AsFloat() == 0) return TypeError("float modulo");
        double r = std::fmod(a.AsFloat(), b.AsFloat());
        if (r != 0 && ((r < 0) != (b.AsFloat() < 0))) r += b.AsFloat();
        return Value::Float(r);
      }
      if (a.is_string()) return PercentFormat(a.pstr(), b, max_bytes);
      return Unsupported("%", a, b);
    case BinOp::kPow:
      if (ints && b.AsInt() >= 0) {
        int64_t r = 1, base = a.AsInt();
        for (int64_t e = b.AsInt(); e > 0; --e) {
          if (__builtin_mul_overflow(r, base, &r)) return TypeError("integer overflow");
          if (r == 0 || r == 1) break;
        }
        return Value::Int(r);
      }
      if (nums) return Value::Float(std::pow(a.AsFloat(), b.AsFloat()));
      return Unsupported("** or pow()", a, b);
  }
  return Value();
}

absl::StatusOr<bool> Contains(const Value& c, const Value& item) {
  switch (c.kind()) {
    case Value::Kind::kString:
      if (!item.is_string())
        return TypeError(absl::StrCat("'in <string>' requires string as left operand, not ", item.TypeName()));
      return c.str().find(item.str()) != std::string::npos;
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      for (const Value& x : c.list())
        if (PyEquals(x, item)) return true;
      return false;
    case Value::Kind::kDict:
      return c.dict().Find(item) != nullptr;
    case Value::Kind::kUndefined:
      return false;
    default:
      return TypeError(absl::StrCat("argument of type '", c.TypeName(), "' is not iterable"));
  }
}

absl::StatusOr<Value> GetAttr(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if (obj.is_dict() || obj.is_namespace()) {
    if (const Value* v = obj.dict().Find(name)) return *v;
  }
  if (obj.is_none()) return Value::Undefined(absl::StrCat("'None' has no attribute '", Sv(name), "'"));
  return Value::Undefined(absl::StrCat("'", obj.TypeName(), " object' has no attribute '", Sv(name), "'"));
}

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if (obj.is_dict()) {
    if (const Value* v = obj.dict().Find(key)) return *v;
    return Value::Undefined(absl::StrCat("'dict object' has no attribute ", key.Repr()));
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    const bool ascii = obj.is_string() && IsAscii(obj.str());
    const int64_t n = static_cast<int64_t>(obj.is_list() ? obj.list().size()
                                           : ascii       ? obj.str().size()
                                                         : CodePointCount(obj.str()));
    int64_t i = key.AsInt();
    if (i < 0) i += n;
    if (i < 0 || i >= n)
      return Value::Undefined(absl::StrCat("'", obj.TypeName(), " object' has no attribute '", key.AsInt(), "'"));
    if (obj.is_list()) return obj.list()[i];
    if (ascii) return Value::String(obj.pstr().Substr(i, 1));
    size_t len;
    const size_t off = ByteOffsetOfCodePoint(obj.str(), i);
    DecodeAt(obj.str(), off, &len);
    return Value::String(obj.pstr().Substr(off, len));
  }
  if (key.is_string()) return GetAttr(obj, key.str());
  return Value::Undefined(absl::StrCat("'", obj.TypeName(), " object' has no attribute ", key.Repr()));
}

absl::StatusOr<Value> Slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (obj.is_undefined()) return UndefinedError(obj);
  if (!obj.is_list() && !obj.is_string())
    return TypeError(absl::StrCat("'", obj.TypeName(), "' object is not subscriptable"));
  for (const Value* v : {&start_v, &stop_v, &step_v})
    if (!v->is_none() && !v->is_int() && !v->is_bool()) return TypeError("slice indices must be integers or None");
  const int64_t step = step_v.is_none() ? 1 : step_v.AsInt();
  if (step == 0) return TypeError("slice step cannot be zero");
  // Code point boundaries of a string (identity for ASCII).
  std::vector<size_t> offsets;
  const bool ascii = obj.is_string() && IsAscii(obj.str());
  if (obj.is_string() && !ascii) {
    for (size_t i = 0, len = 0; i < obj.str().size(); i += len) {
      offsets.push_back(i);
      DecodeAt(obj.str(), i, &len);
    }
    offsets.push_back(obj.str().size());
  }
  const int64_t n = static_cast<int64_t>(obj.is_list() ? obj.list().size()
                                         : ascii       ? obj.str().size()
                                                       : offsets.size() - 1);
  const int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? n : n - 1;
  auto clamp = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t x = v.AsInt();
    if (x < 0) {
      x += n;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  const int64_t start = clamp(start_v, step > 0 ? lower : upper), stop = clamp(stop_v, step > 0 ? upper : lower);
  if (obj.is_list()) {
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(obj.list()[i]);
    return obj.kind() == Value::Kind::kTuple ? Value::MakeTuple(std::move(out)) : Value::MakeList(std::move(out));
  }
  auto byte_of = [&](int64_t i) { return ascii ? static_cast<size_t>(i) : offsets[i]; };
  if (step == 1) {
    if (start >= stop) return Value::String("", true);
    return Value::String(obj.pstr().Substr(byte_of(start), byte_of(stop) - byte_of(start)));
  }
  PString out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
    out.Append(obj.pstr().Substr(byte_of(i), byte_of(i + 1) - byte_of(i)));
  return Value::String(std::move(out));
}

absl::StatusOr<List> Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kList:
    case Value::Kind::kTuple:
      return v.list();
    case Value::Kind::kDict: {
      List keys;
      keys.reserve(v.dict().entries.size());
      for (const auto& [k, x] : v.dict().entries) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      List chars;
      const std::string& s = v.str();
      for (size_t i = 0, len = 0; i < s.size(); i += len) {
        DecodeAt(s, i, &len);
        chars.push_back(Value::String(v.pstr().Substr(i, len)));
      }
      return chars;
    }
    case Value::Kind::kUndefined:
      return List();
    default:
      return TypeError(absl::StrCat("'", v.TypeName(), "' object is not iterable"));
  }
}

absl::Status BindArgs(std::string_view function, CallArgs& args, const std::vector<Param>& params,
                      std::vector<Value>& out) {
  out.assign(params.size(), Value());
  std::vector<bool> bound(params.size(), false);
  if (args.positional.size() > params.size())
    return TypeError(absl::StrCat(Sv(function), "() takes at most ", params.size(), " arguments (",
                                  args.positional.size(), " given)"));
  for (size_t i = 0; i < args.positional.size(); ++i) {
    out[i] = std::move(args.positional[i]);
    bound[i] = true;
  }
  for (auto& [name, v] : args.kwargs) {
    size_t i = 0;
    while (i < params.size() && name != params[i].name) ++i;
    if (i == params.size())
      return TypeError(absl::StrCat(Sv(function), "() got an unexpected keyword argument '", name, "'"));
    if (bound[i]) return TypeError(absl::StrCat(Sv(function), "() got multiple values for argument '", name, "'"));
    out[i] = std::move(v);
    bound[i] = true;
  }
  for (size_t i = 0; i < params.size(); ++i)
    if (!bound[i]) out[i] = params[i].default_value;
  return absl::OkStatus();
}

}  // namespace jinja
