// Engine behaviour beyond the goldens: syntax errors name line and column, every limit is a clear error, and
// provenance (template text trusted, data untrusted) survives the operations templates apply to data.
#include <gtest/gtest.h>

#include <string>

#include "services/template/jinja/template.h"

namespace {

using jinja::Context;
using jinja::Limits;
using jinja::Segment;
using jinja::Template;
using jinja::Value;

absl::Status ParseError(const std::string& source) {
  absl::StatusOr<Template> t = Template::Parse(source);
  return t.ok() ? absl::OkStatus() : t.status();
}

absl::StatusOr<jinja::RenderResult> Render(const std::string& source, const Context& ctx = Context(),
                                           const Limits& limits = Limits()) {
  absl::StatusOr<Template> t = Template::Parse(source, limits);
  if (!t.ok()) return t.status();
  return t->Render(ctx);
}

TEST(JinjaSyntaxError, NamesLineAndColumn) {
  EXPECT_EQ(ParseError("ab\n{{ x | nofilter }}").message(),
            "template syntax error: line 2, column 8: no filter named 'nofilter'");
  EXPECT_EQ(ParseError("{% if x %}\nabc").message(),
            "template syntax error: line 2, column 4: unexpected end of template, expected 'endif'");
  EXPECT_EQ(ParseError("x\n\n  {{ 'abc }}").message(), "template syntax error: line 3, column 6: unterminated string");
  EXPECT_EQ(ParseError("{{ 1 + }}").message(),
            "template syntax error: line 1, column 8: unexpected end of print statement");
  EXPECT_EQ(ParseError("{% endfor %}").message(),
            "template syntax error: line 1, column 4: encountered unknown or unexpected tag 'endfor'");
  EXPECT_EQ(ParseError("{{ (1 }}").message(), "template syntax error: line 1, column 7: unexpected '}', expected ')'");
  EXPECT_EQ(ParseError("{% for x in y %}{% endif %}").message(),
            "template syntax error: line 1, column 20: encountered unknown or unexpected tag 'endif'");
  EXPECT_EQ(ParseError("{{ x is nosuchtest }}").message(),
            "template syntax error: line 1, column 9: no test named 'nosuchtest'");
  EXPECT_EQ(ParseError("{% break %}").message(), "template syntax error: line 1, column 4: 'break' outside of a loop");
  EXPECT_EQ(ParseError("{# open").message(), "template syntax error: line 1, column 1: missing end of comment tag");
  EXPECT_EQ(ParseError("{% include 'x' %}").code(), absl::StatusCode::kInvalidArgument);
}

TEST(JinjaRuntimeError, NamesTheLine) {
  absl::StatusOr<jinja::RenderResult> r = Render("a\n{% for x in none %}{% endfor %}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "line 2: 'NoneType' object is not iterable");
  EXPECT_FALSE(jinja::IsRaisedByTemplate(r.status()));
  r = Render("{{ raise_exception('Only user and assistant roles are supported!') }}");
  EXPECT_EQ(r.status().message(), "Only user and assistant roles are supported!");
  EXPECT_TRUE(jinja::IsRaisedByTemplate(r.status()));
}

TEST(JinjaLimits, TemplateSize) {
  Limits limits;
  const std::string big(limits.max_template_bytes + 1, 'x');
  absl::StatusOr<Template> t = Template::Parse(big, limits);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "template is 262145 bytes, over the limit of 262144 bytes");
  EXPECT_TRUE(Template::Parse(std::string(limits.max_template_bytes, 'x'), limits).ok());
}

TEST(JinjaLimits, NestingDepthInSource) {
  const std::string deep = "{{ " + std::string(200, '(') + "1" + std::string(200, ')') + " }}";
  absl::Status s = ParseError(deep);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("nesting deeper than the limit of 64 levels"), std::string::npos) << s;
  std::string blocks;
  for (int i = 0; i < 100; ++i) blocks += "{% if true %}";
  for (int i = 0; i < 100; ++i) blocks += "{% endif %}";
  EXPECT_NE(ParseError(blocks).message().find("limit of 64 levels"), std::string::npos);
  EXPECT_TRUE(Render(std::string(20, '(') + "{{ " + std::string(20, '(') + "1" + std::string(20, ')') + " }}").ok());
}

TEST(JinjaLimits, MacroRecursionDepth) {
  absl::StatusOr<jinja::RenderResult> r = Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("limit of 32 nested macro calls"), std::string::npos) << r.status();
  // Exactly at the limit is fine.
  r = Render("{% macro f(n) %}{% if n < 32 %}{{ f(n + 1) }}{% else %}{{ n }}{% endif %}{% endmacro %}{{ f(1) }}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "32");
}

// Every kind of nesting at once, near the limits: 30 blocks deep inside a macro 32 calls deep, with a
// 9-paren expression at the bottom (source nesting counts blocks and expression levels together). The C++ stack
// must hold it (the sanitizer build has the largest frames).
TEST(JinjaLimits, AllNestingAtOnceFitsTheStack) {
  const std::string ifs = [] {
    std::string s;
    for (int i = 0; i < 30; ++i) s += "{% if true %}";
    return s;
  }();
  const std::string endifs = [] {
    std::string s;
    for (int i = 0; i < 30; ++i) s += "{% endif %}";
    return s;
  }();
  const std::string expr = std::string(9, '(') + "n" + std::string(9, ')');
  absl::StatusOr<jinja::RenderResult> r =
      Render("{% macro f(n) %}" + ifs + "{% if n < 32 %}{{ f(" + expr + " + 1) }}{% else %}{{ n }}{% endif %}" +
             endifs + "{% endmacro %}{{ f(1) }}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "32");
  // A small stack budget trips the guard cleanly instead of overflowing.
  Limits tight;
  tight.max_stack_bytes = 16 * 1024;
  r = Render("{% macro f(n) %}" + ifs + "{% if n < 32 %}{{ f(" + expr + " + 1) }}{% endif %}" + endifs +
                 "{% endmacro %}{{ f(1) }}",
             Context(), tight);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("stack budget of 16384 bytes"), std::string::npos) << r.status();
}

TEST(JinjaLimits, LoopIterations) {
  Limits limits;
  limits.max_iterations = 1000;
  EXPECT_TRUE(Render("{% for i in range(1000) %}{% endfor %}", Context(), limits).ok());
  absl::StatusOr<jinja::RenderResult> r = Render("{% for i in range(1000) %}{% endfor %}x", Context(), limits);
  ASSERT_TRUE(r.ok());
  r = Render("{% for i in range(40) %}{% for j in range(40) %}{% endfor %}{% endfor %}", Context(), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("limit of 1000 loop iterations and macro calls"), std::string::npos);
  // Exponential macro fan-out is bounded by the same budget, not by depth alone.
  r = Render("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}",
             Context(), limits);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  r = Render("{{ range(10**12)|length }}");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(JinjaLimits, OutputSize) {
  Limits limits;
  limits.max_output_bytes = 1000;
  EXPECT_TRUE(Render("{{ 'x' * 1000 }}", Context(), limits).ok());
  for (const char* hostile : {"{{ 'x' * 1001 }}", "{% for i in range(11) %}{{ 'x' * 100 }}{% endfor %}",
                              "{% set ns = namespace(s='x') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}"
                              "{% endfor %}",
                              "{% set ns = namespace(s='xx') %}{% for i in range(20) %}{% set ns.s = ns.s + ns.s %}"
                              "{% endfor %}",
                              "{{ (['abc'] * 400)|join }}", "{{ ('x' * 100).replace('x', 'yyyyyyyyyyyy') }}"}) {
    absl::StatusOr<jinja::RenderResult> r = Render(hostile, Context(), limits);
    ASSERT_FALSE(r.ok()) << hostile;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << hostile << ": " << r.status();
    EXPECT_NE(r.status().message().find("limit of 1000 bytes"), std::string::npos) << r.status();
  }
  absl::StatusOr<jinja::RenderResult> r = Render("{{ 'x' * 10**12 }}");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

// The text of every untrusted segment, concatenated; and a check that segments add up to the text.
std::string Untrusted(const jinja::RenderResult& r) {
  std::string joined, untrusted;
  for (const Segment& s : r.segments) {
    joined += s.text;
    if (!s.trusted) untrusted += s.text;
  }
  EXPECT_EQ(joined, r.text);
  return untrusted;
}

Context DataContext(const std::string& content) {
  Context ctx;
  base::Json m = base::Json::MakeObject();
  m.Set("role", "user");
  m.Set("content", content);
  ctx.Set("messages", Value::FromJson(base::Json::MakeArray({m}), /*trusted=*/false));
  ctx.Set("content", Value::String(content, false));
  ctx.Set("bos_token", Value::String("<s>", true));
  ctx.Set("eos_token", Value::String("</s>", true));
  return ctx;
}

TEST(JinjaProvenance, MistralUserContentStaysUntrusted) {
  const std::string mistral =
      "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
      "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}";
  absl::StatusOr<jinja::RenderResult> r = Render(mistral, DataContext("a <s> b </s>"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "<s>[INST] a <s> b </s> [/INST]");
  ASSERT_EQ(r->segments.size(), 3u);
  EXPECT_EQ(r->segments[0], (Segment{"<s>[INST] ", true}));
  EXPECT_EQ(r->segments[1], (Segment{"a <s> b </s>", false}));
  EXPECT_EQ(r->segments[2], (Segment{" [/INST]", true}));
}

TEST(JinjaProvenance, SurvivesTransformations) {
  const Context ctx = DataContext("  <s>Hi</s>  ");
  struct Case {
    const char* source;
    const char* untrusted;  // exactly the text that must be untrusted
  };
  const Case cases[] = {
      {"[{{ content.strip() }}]", "<s>Hi</s>"},
      {"[{{ content|trim|upper }}]", "<S>HI</S>"},
      {"[{{ content|lower|title }}]", "  <S>hi</s>  "},
      {"{{ content[2:5] }}|{{ content[3] }}", "<s>s"},
      {"{{ content.split('Hi')|join('<unk>') }}", "  <s></s>  "},
      {"{{ content.replace('Hi', '</s>') }}", "  <s></s>  "},
      {"{{ messages|tojson }}", R"([{"role": "user", "content": "  <s>Hi</s>  "}])"},
      {"{{ '%s!' % content }}", "  <s>Hi</s>  "},
      {"{{ '{}!'.format(content) }}", "  <s>Hi</s>  "},
      {"{% macro m(x) %}<s>{{ x }}{% endmacro %}{{ m(content) }}", "  <s>Hi</s>  "},
      {"{% set v %}<<{{ content }}>>{% endset %}{{ v }}", "  <s>Hi</s>  "},
      {"{% for k, v in messages[0]|items %}{{ k }}{% endfor %}", "rolecontent"},
      {"{% for c in content %}{{ c }}{% endfor %}", "  <s>Hi</s>  "},
      {"{{ content ~ eos_token }}", "  <s>Hi</s>  "},
      {"{{ messages[0] }}", "{'role': 'user', 'content': '  <s>Hi</s>  '}"},
      {"{{ '<s>'|upper|lower }}{{ ['<s>', '</s>']|join }}{{ {'a': '<s>'}|tojson }}", ""},
      {"{{ bos_token ~ strftime_now('%Y') }}", ""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<jinja::RenderResult> r = Render(c.source, ctx);
    ASSERT_TRUE(r.ok()) << c.source << ": " << r.status();
    EXPECT_EQ(Untrusted(*r), c.untrusted) << c.source << " rendered " << r->text;
  }
}

TEST(JinjaClock, FixedAndInvalid) {
  Context ctx;
  ctx.set_clock(*jinja::FixedClock("2025-03-09T08:05:03"));
  absl::StatusOr<jinja::RenderResult> r = Render("{{ strftime_now('%d %b %Y %A %H:%M:%S') }}", ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "09 Mar 2025 Sunday 08:05:03");
  EXPECT_FALSE(jinja::FixedClock("2025-13-09T08:05:03").ok());
  EXPECT_FALSE(jinja::FixedClock("yesterday").ok());
  EXPECT_FALSE(jinja::FixedClock("2025-03-09T08:05:03Z").ok());
}

TEST(JinjaSandbox, RefusesMutation) {
  for (const char* s : {"{% set l = [] %}{{ l.append(1) }}", "{{ messages.pop() }}", "{{ messages[0].update({}) }}",
                        "{{ messages[0].setdefault('x', 1) }}", "{{ messages.sort() }}"}) {
    absl::StatusOr<jinja::RenderResult> r = Render(s, DataContext("x"));
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_NE(r.status().message().find("is unsafe"), std::string::npos) << r.status();
  }
}

// Reference cycles (a scope holding a macro that closes over it, a namespace holding itself) must not outlive a
// render; the sanitizer build (AWQSERVE_SANITIZE) reports them as leaks.
TEST(JinjaTemplate, CyclesAreBrokenWhenTheRenderEnds) {
  absl::StatusOr<jinja::RenderResult> r = Render(
      "{% set ns = namespace() %}{% set ns.me = ns %}{% macro m() %}{{ ns.me is defined }}{% endmacro %}"
      "{% for i in [1, 2] %}{% macro inner() %}{{ i }}{% endmacro %}{{ inner() }}{% endfor %}{{ m() }}"
      "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}{{ m() }}{% endcall %}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "12True[True]");
  EXPECT_FALSE(
      Render("{% set ns = namespace() %}{% set ns.me = ns %}{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}").ok());
}

TEST(JinjaTemplate, RenderIsRepeatableAndCopiesShareTheProgram) {
  absl::StatusOr<Template> t = Template::Parse("{% for m in messages %}{{ m.content }}{% endfor %}");
  ASSERT_TRUE(t.ok());
  const Template copy = *t;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<jinja::RenderResult> r = copy.Render(DataContext("hey"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->text, "hey");
  }
}

}  // namespace
