// Every case of the chat-template golden corpus and of Mistral v0.1's transformers goldens, rendered by the
// engine and compared byte for byte (error rows: the template's own message, exactly).
#include <gtest/gtest.h>

#include "services/template/jinja/template.h"
#include "tests/unit/jinja/golden_util.h"

namespace {

using jinja_test::Corpus;
using jinja_test::GoldenCase;

jinja::Context MakeContext(const Corpus& corpus, const GoldenCase& g) {
  const base::Json& entry = corpus.index.Get(g.template_name);
  const base::Json& conv = corpus.conversations.at(g.conversation);
  jinja::Context ctx;
  ctx.Set("messages", jinja::Value::FromJson(conv.Get("messages"), false));
  ctx.Set("add_generation_prompt", jinja::Value::Bool(g.add_generation_prompt));
  ctx.Set("tools", jinja::Value::FromJson(conv.Get("tools"), false));
  ctx.Set("documents", jinja::Value::FromJson(conv.Get("documents"), false));
  if (entry.Get("bos_token").is_string())
    ctx.Set("bos_token", jinja::Value::String(entry.Get("bos_token").AsString(), true));
  if (entry.Get("eos_token").is_string())
    ctx.Set("eos_token", jinja::Value::String(entry.Get("eos_token").AsString(), true));
  for (const auto& [k, v] : conv.Get("extra_vars").members()) ctx.Set(k, jinja::Value::FromJson(v, false));
  ctx.set_clock(*jinja::FixedClock("2025-03-09T08:05:03"));
  return ctx;
}

TEST(JinjaGolden, EveryCorpusCase) {
  const Corpus corpus = jinja_test::LoadCorpus();
  ASSERT_EQ(corpus.cases.size(), 1200u);
  std::map<std::string, jinja::Template> parsed;
  for (const auto& [name, source] : corpus.templates) {
    absl::StatusOr<jinja::Template> t = jinja::Template::Parse(source);
    ASSERT_TRUE(t.ok()) << name << ": " << t.status();
    parsed.emplace(name, *t);
  }
  int passed = 0;
  for (const GoldenCase& g : corpus.cases) {
    absl::StatusOr<jinja::RenderResult> r = parsed.at(g.template_name).Render(MakeContext(corpus, g));
    if (g.is_error) {
      if (r.ok()) {
        ADD_FAILURE() << g.Name() << ": expected error '" << g.error_message << "', got output:\n" << r->text;
        continue;
      }
      if (g.raised_by_template) {
        EXPECT_TRUE(jinja::IsRaisedByTemplate(r.status())) << g.Name() << ": " << r.status();
        EXPECT_EQ(r.status().message(), g.error_message) << g.Name();
        if (r.status().message() != g.error_message) continue;
      }
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << g.Name();
      ++passed;
      continue;
    }
    if (!r.ok()) {
      ADD_FAILURE() << g.Name() << ": " << r.status();
      continue;
    }
    EXPECT_EQ(r->text, g.output) << g.Name();
    std::string joined;
    for (const jinja::Segment& s : r->segments) joined += s.text;
    EXPECT_EQ(joined, r->text) << g.Name();
    if (r->text == g.output) ++passed;
  }
  EXPECT_EQ(passed, 1200);
}

TEST(JinjaGolden, MistralTransformersRows) {
  const std::string dir = jinja_test::SharedPath("assets/mistral-7b-instruct-v0.1");
  const base::Json config = *base::ReadJsonFile(dir + "/tokenizer_config.json");
  absl::StatusOr<jinja::Template> t = jinja::Template::Parse(config.Get("chat_template").AsString());
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string lines = *base::ReadFile(dir + "/chat_golden_hf.jsonl");
  int rows = 0, errors = 0;
  for (size_t pos = 0, nl; pos < lines.size(); pos = nl + 1) {
    nl = lines.find('\n', pos);
    if (nl == std::string::npos) nl = lines.size();
    if (nl == pos) continue;
    const base::Json row = *base::Json::Parse(std::string_view(lines).substr(pos, nl - pos));
    ++rows;
    jinja::Context ctx;
    ctx.Set("messages", jinja::Value::FromJson(row.Get("messages"), false));
    ctx.Set("add_generation_prompt", jinja::Value::Bool(false));
    ctx.Set("bos_token", jinja::Value::String("<s>", true));
    ctx.Set("eos_token", jinja::Value::String("</s>", true));
    absl::StatusOr<jinja::RenderResult> r = t->Render(ctx);
    if (const base::Json* err = row.Find("error")) {
      ++errors;
      ASSERT_FALSE(r.ok()) << row.Dump();
      EXPECT_TRUE(jinja::IsRaisedByTemplate(r.status()));
      EXPECT_EQ(r.status().message(), err->AsString());
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->text, row.Get("text").AsString());
  }
  EXPECT_EQ(rows, 16);
  EXPECT_EQ(errors, 4);
}

}  // namespace
