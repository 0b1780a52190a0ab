#include "base/json.h"

#include <gtest/gtest.h>

namespace base {
namespace {

TEST(Json, ParsesAndKeepsKeyOrder) {
  auto j = Json::Parse(R"({"b": 1, "a": [true, null, 2.5, "x\u00e9\ud83d\ude00"], "c": {}})");
  ASSERT_TRUE(j.ok()) << j.status();
  ASSERT_TRUE(j->is_object());
  EXPECT_EQ(j->members()[0].first, "b");
  EXPECT_EQ(j->members()[1].first, "a");
  EXPECT_EQ(j->Get("b").AsInt(), 1);
  EXPECT_TRUE(j->Get("b").is_int());
  EXPECT_DOUBLE_EQ(j->Get("a").items()[2].AsDouble(), 2.5);
  EXPECT_EQ(j->Get("a").items()[3].AsString(), "x\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(j->Get("missing").is_null());
}

TEST(Json, DumpsLikePython) {
  auto j = Json::Parse(R"({"b": 1, "a": [true, null, 2.5, 1.0, 1e20, 0.0001, "\u00e9\n"]})");
  ASSERT_TRUE(j.ok());
  // json.dumps(...) with default options
  EXPECT_EQ(j->Dump(), R"({"b": 1, "a": [true, null, 2.5, 1.0, 1e+20, 0.0001, "\u00e9\n"]})");
  Json::DumpOptions o;
  o.ensure_ascii = false;
  o.indent = 2;
  EXPECT_EQ(j->Dump(o), "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null,\n    2.5,\n    1.0,\n    1e+20,\n"
                        "    0.0001,\n    \"\xc3\xa9\\n\"\n  ]\n}");
  EXPECT_EQ(Json(std::string("\xf0\x9f\x98\x80")).Dump(), R"("\ud83d\ude00")");
  EXPECT_EQ(Json::ArrayOf(std::vector<int>{1, 2}).DumpCompact(), "[1,2]");
}

TEST(Json, FloatReprMatchesPython) {
  EXPECT_EQ(PythonFloatRepr(0.1), "0.1");
  EXPECT_EQ(PythonFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PythonFloatRepr(123456789012345.0), "123456789012345.0");
  EXPECT_EQ(PythonFloatRepr(1e-5), "1e-05");
  EXPECT_EQ(PythonFloatRepr(-2.0), "-2.0");
}

TEST(Json, RejectsMalformedDocuments) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "tru", "\"\\x\"", "1 2", "\"\xff\"", "\"\\ud800\""}) {
    EXPECT_FALSE(Json::Parse(bad).ok()) << bad;
  }
  std::string deep(600, '[');
  EXPECT_FALSE(Json::Parse(deep).ok());
}

}  // namespace
}  // namespace base
