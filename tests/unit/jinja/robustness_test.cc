// Hostile and malformed input: thousands of deterministic mutations of the corpus templates (spans deleted,
// duplicated, or spliced with template syntax) are parsed and rendered. Each must either render or fail with
// INVALID_ARGUMENT / RESOURCE_EXHAUSTED — never crash, hang or return another code (the sanitizer build checks
// memory safety on the same run).
#include <gtest/gtest.h>

#include <random>

#include "services/template/jinja/template.h"
#include "tests/unit/jinja/golden_util.h"

namespace {

constexpr int kMutationsPerTemplate = 120;

std::string Mutate(const std::string& s, std::mt19937& rng) {
  static const char* const kSnippets[] = {"{%",
                                          "%}",
                                          "{{",
                                          "}}",
                                          "{#",
                                          "#}",
                                          "(",
                                          ")",
                                          "[",
                                          "]",
                                          "{",
                                          "}",
                                          "|",
                                          "'",
                                          "\"",
                                          "-",
                                          "~",
                                          ",",
                                          ".",
                                          ":",
                                          " is ",
                                          " not ",
                                          " in ",
                                          "endif",
                                          "endfor",
                                          "{% for x in messages %}",
                                          "{% endfor %}",
                                          "{% if x %}",
                                          "{% endif %}",
                                          "loop.",
                                          "**",
                                          "//",
                                          "\\",
                                          "\n",
                                          "\xc3"};
  std::string out = s;
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits && !out.empty(); ++e) {
    const size_t pos = rng() % out.size();
    const size_t len = 1 + rng() % std::min<size_t>(40, out.size() - pos);
    switch (rng() % 3) {
      case 0:
        out.erase(pos, len);
        break;
      case 1:
        out.insert(pos, out.substr(pos, len));
        break;
      default:
        out.insert(pos, kSnippets[rng() % (sizeof(kSnippets) / sizeof(kSnippets[0]))]);
        break;
    }
  }
  return out;
}

TEST(JinjaRobustness, MutatedCorpusTemplatesNeverCrash) {
  const jinja_test::Corpus corpus = jinja_test::LoadCorpus();
  const base::Json& conv = corpus.conversations.at("tool-call-roundtrip");
  jinja::Context ctx;
  ctx.Set("messages", jinja::Value::FromJson(conv.Get("messages"), false));
  ctx.Set("tools", jinja::Value::FromJson(conv.Get("tools"), false));
  ctx.Set("add_generation_prompt", jinja::Value::Bool(true));
  ctx.Set("bos_token", jinja::Value::String("<s>", true));
  ctx.set_clock(*jinja::FixedClock("2025-03-09T08:05:03"));
  jinja::Limits limits;
  limits.max_iterations = 20000;  // keeps mutated loops quick
  std::mt19937 rng(20250309);
  int parsed = 0, rendered = 0, total = 0;
  for (const auto& [name, source] : corpus.templates) {
    for (int i = 0; i < kMutationsPerTemplate; ++i, ++total) {
      const std::string mutated = Mutate(source, rng);
      absl::StatusOr<jinja::Template> t = jinja::Template::Parse(mutated, limits);
      if (!t.ok()) {
        EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << name << " #" << i << ": " << t.status();
        continue;
      }
      ++parsed;
      absl::StatusOr<jinja::RenderResult> r = t->Render(ctx);
      if (r.ok()) {
        ++rendered;
        continue;
      }
      EXPECT_TRUE(r.status().code() == absl::StatusCode::kInvalidArgument ||
                  r.status().code() == absl::StatusCode::kResourceExhausted ||
                  r.status().code() == absl::StatusCode::kPermissionDenied)
          << name << " #" << i << ": " << r.status();
    }
  }
  // The mutations exercise both the parser's error paths and the interpreter.
  EXPECT_GT(parsed, total / 10);
  EXPECT_GT(rendered, total / 20);
  EXPECT_LT(parsed, total);
}

}  // namespace
