// A JSON value that keeps object keys in insertion order, with a strict parser and a serializer that writes
// exactly what Python's json.dumps writes (the chat templates' tojson and the CLI's output depend on that).
//
//   ASSIGN_OR_RETURN(base::Json cfg, base::Json::Parse(text));
//   int64_t hidden = cfg.Get("hidden_size").AsInt();      // Get() of a missing key is a null value
//   std::string line = base::Json::Object({{"ids", ids}}).Dump();
//
// Values are plain data: copyable, not thread-safe for concurrent mutation. Integers and floats are kept apart
// (1 and 1.0 print differently, as in Python). Parsing rejects trailing data, invalid UTF-8 and depth > 512.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace base {

class Json {
 public:
  enum class Type { kNull, kBool, kInt, kFloat, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::kBool), bool_(b) {}
  Json(int v) : type_(Type::kInt), int_(v) {}
  Json(int64_t v) : type_(Type::kInt), int_(v) {}
  Json(double v) : type_(Type::kFloat), float_(v) {}
  Json(const char* s) : type_(Type::kString), string_(s) {}
  Json(std::string s) : type_(Type::kString), string_(std::move(s)) {}
  Json(std::string_view s) : type_(Type::kString), string_(s) {}
  Json(Array a) : type_(Type::kArray), array_(std::move(a)) {}
  static Json MakeObject(Object members = {});
  static Json MakeArray(Array items = {}) { return Json(std::move(items)); }
  template <typename T>
  static Json ArrayOf(const std::vector<T>& v) {
    Array a;
    a.reserve(v.size());
    for (const T& x : v) a.emplace_back(x);
    return Json(std::move(a));
  }

  // Parses one JSON document; the error names the byte offset.
  static absl::StatusOr<Json> Parse(std::string_view text);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_int() const { return type_ == Type::kInt; }
  bool is_number() const { return type_ == Type::kInt || type_ == Type::kFloat; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool AsBool() const { return bool_; }
  int64_t AsInt() const { return type_ == Type::kFloat ? static_cast<int64_t>(float_) : int_; }
  double AsDouble() const { return type_ == Type::kInt ? static_cast<double>(int_) : float_; }
  const std::string& AsString() const { return string_; }
  const Array& items() const { return array_; }
  Array& items() { return array_; }
  const Object& members() const { return object_; }
  Object& members() { return object_; }

  // Object access. Find returns nullptr when absent (or when this is not an object); Get returns a null value.
  const Json* Find(std::string_view key) const;
  const Json& Get(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  // Sets `key` (replacing an existing member in place, else appending). Turns a null value into an object.
  void Set(std::string key, Json value);
  void Append(Json value);  // turns a null value into an array
  size_t size() const { return is_array() ? array_.size() : is_object() ? object_.size() : 0; }

  struct DumpOptions {
    bool ensure_ascii = true;       // \uXXXX for non-ASCII (Python's default)
    int indent = -1;                // < 0: one line
    std::string item_separator;     // default: ", " on one line, "," with an indent
    std::string key_separator = ": ";
    bool sort_keys = false;
  };
  // Python json.dumps(value) with the given options.
  std::string Dump(const DumpOptions& options) const;
  std::string Dump() const { return Dump(DumpOptions{}); }
  // Compact form for wire output: separators "," and ":", UTF-8 kept.
  std::string DumpCompact() const;

  friend bool operator==(const Json& a, const Json& b);
  friend bool operator!=(const Json& a, const Json& b) { return !(a == b); }

 private:
  void DumpTo(std::string& out, const DumpOptions& o, int level) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

// Python's repr of a float: shortest round-trip digits, "1.0" for integral values, "inf"/"nan" spelled as Python.
std::string PythonFloatRepr(double v);
// json.dumps of one string.
void AppendJsonString(std::string& out, std::string_view s, bool ensure_ascii);

}  // namespace base
