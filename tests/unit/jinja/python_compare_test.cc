// Hand-written templates exercising features beyond the golden corpus, rendered by Python's jinja2 (configured
// as transformers configures it, see python_reference.py) and by the engine: outputs must match byte for byte,
// and a case that fails in Python must fail here too.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "base/file.h"
#include "base/json.h"
#include "services/template/jinja/template.h"

namespace {

std::string RunPython(const std::string& script, const std::string& cases) {
  const std::string cmd = std::string(AWQ_PYTHON3) + " '" + script + "' '" + cases + "'";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

TEST(JinjaPythonCompare, HandWrittenCasesMatchJinja2) {
  const std::string dir = std::string(AWQSERVE_SOURCE_DIR) + "/tests/unit/jinja";
  const std::string cases_path = dir + "/python_cases.json";
  absl::StatusOr<base::Json> cases = base::ReadJsonFile(cases_path);
  ASSERT_TRUE(cases.ok()) << cases.status();
  absl::StatusOr<base::Json> expected = base::Json::Parse(RunPython(dir + "/python_reference.py", cases_path));
  ASSERT_TRUE(expected.ok()) << "python3 with jinja2 must run: " << expected.status();
  ASSERT_EQ(expected->size(), cases->size());
  ASSERT_GE(cases->size(), 60u);
  for (size_t i = 0; i < cases->size(); ++i) {
    const base::Json& c = cases->items()[i];
    const base::Json& want = expected->items()[i];
    const std::string name = c.Get("name").AsString();
    absl::StatusOr<jinja::Template> t = jinja::Template::Parse(c.Get("template").AsString());
    absl::StatusOr<jinja::RenderResult> r = t.ok() ? t->Render([&] {
      jinja::Context ctx;
      for (const auto& [k, v] : c.Get("context").members()) ctx.Set(k, jinja::Value::FromJson(v, false));
      ctx.set_clock(*jinja::FixedClock("2025-03-09T08:05:03"));
      return ctx;
    }())
                                                   : absl::StatusOr<jinja::RenderResult>(t.status());
    if (const base::Json* err = want.Find("error")) {
      EXPECT_FALSE(r.ok()) << name << ": Python fails with " << err->AsString() << " but we rendered:\n" << r->text;
      if (err->AsString().rfind("TemplateError: ", 0) == 0 && !r.ok()) {
        EXPECT_TRUE(jinja::IsRaisedByTemplate(r.status())) << name;
        EXPECT_EQ(std::string(r.status().message()), err->AsString().substr(15)) << name;
      }
      continue;
    }
    ASSERT_TRUE(r.ok()) << name << ": " << r.status();
    EXPECT_EQ(r->text, want.Get("output").AsString()) << name;
  }
}

}  // namespace
