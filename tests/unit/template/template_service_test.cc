// The template service's logic without a network: model folder loading, request validation (every bad request
// names its field), template errors, segments, the override cache, and every golden case through DoRender.
#include "services/template/template_service.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "services/template/model_template.h"
#include "services/template/render_request.h"
#include "tests/unit/jinja/golden_util.h"
#include "tests/unit/template/request_util.h"

namespace {

namespace v1 = awqserve::v1;
using template_service::ModelTemplate;
using template_service::TemplateService;

std::string MistralDir() { return jinja_test::SharedPath("assets/mistral-7b-instruct-v0.1"); }

// A scratch model folder, removed afterwards.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/awq_template_test_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name, std::ios::binary) << text;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ModelTemplate, MistralFolder) {
  absl::StatusOr<ModelTemplate> mt = template_service::LoadModelTemplate(MistralDir());
  ASSERT_TRUE(mt.ok()) << mt.status();
  EXPECT_EQ(mt->source, "chat_template.jinja");
  EXPECT_EQ(mt->bos_token, "<s>");
  EXPECT_EQ(mt->eos_token, "</s>");
  // The built-in copy is the model's own template (the .jinja file ends without a newline).
  EXPECT_EQ(mt->chat_template, template_service::kMistralV01Template);
}

TEST(ModelTemplate, SourcesAndTokenForms) {
  TempDir dir;
  dir.Write("tokenizer_config.json",
            R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}],
                "bos_token": {"content": "<|b|>", "lstrip": false}, "eos_token": null})");
  dir.Write("special_tokens_map.json", R"({"eos_token": "<|e|>"})");
  absl::StatusOr<ModelTemplate> mt = template_service::LoadModelTemplate(dir.path());
  ASSERT_TRUE(mt.ok()) << mt.status();
  EXPECT_EQ(mt->chat_template, "D");
  EXPECT_EQ(mt->source, "tokenizer_config.json");
  EXPECT_EQ(mt->bos_token, "<|b|>");
  EXPECT_EQ(mt->eos_token, "<|e|>");

  TempDir empty;
  mt = template_service::LoadModelTemplate(empty.path());
  ASSERT_TRUE(mt.ok());
  EXPECT_EQ(mt->source, template_service::kBuiltinSource);
  EXPECT_EQ(mt->bos_token, "<s>");
  EXPECT_EQ(mt->eos_token, "</s>");

  // A folder whose own files name tokens keeps them, also under the built-in template.
  TempDir named;
  named.Write("special_tokens_map.json", R"({"bos_token": "<B>"})");
  mt = template_service::LoadModelTemplate(named.path());
  ASSERT_TRUE(mt.ok()) << mt.status();
  EXPECT_EQ(mt->source, template_service::kBuiltinSource);
  EXPECT_EQ(mt->bos_token, "<B>");
  EXPECT_EQ(mt->eos_token, "</s>");

  TempDir bad;
  bad.Write("tokenizer_config.json", R"({"chat_template": 5})");
  mt = template_service::LoadModelTemplate(bad.path());
  EXPECT_EQ(mt.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mt.status().message().find("tokenizer_config.json: chat_template must be"), std::string::npos);
  bad.Write("tokenizer_config.json", "{not json");
  EXPECT_FALSE(template_service::LoadModelTemplate(bad.path()).ok());
}

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : service_(template_service::BuiltinTemplate(), {}, &registry_) {}
  void SetUp() override { ASSERT_TRUE(service_.Init().ok()); }

  absl::Status Render(const v1::RenderRequest& req, v1::RenderResponse* resp = nullptr) {
    v1::RenderResponse local;
    return service_.DoRender(req, resp ? resp : &local);
  }
  static v1::RenderRequest OneUser(const std::string& text) {
    v1::RenderRequest req;
    v1::ChatMessage* m = req.add_messages();
    m->set_role("user");
    m->set_content(text);
    return req;
  }

  prometheus::Registry registry_;
  TemplateService service_;
};

TEST_F(ServiceTest, RendersWithSegments) {
  v1::RenderResponse resp;
  ASSERT_TRUE(Render(OneUser("Text with <s> inside"), &resp).ok());
  EXPECT_EQ(resp.text(), "<s>[INST] Text with <s> inside [/INST]");
  ASSERT_EQ(resp.segments_size(), 3);
  EXPECT_EQ(resp.segments(0).text(), "<s>[INST] ");
  EXPECT_TRUE(resp.segments(0).trusted());
  EXPECT_EQ(resp.segments(1).text(), "Text with <s> inside");
  EXPECT_FALSE(resp.segments(1).trusted());
  EXPECT_EQ(resp.segments(2).text(), " [/INST]");
  EXPECT_TRUE(resp.segments(2).trusted());
}

TEST_F(ServiceTest, BadRequestsNameTheField) {
  struct Case {
    v1::RenderRequest req;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({v1::RenderRequest(), "messages: at least one message is required"});
  {
    v1::RenderRequest r = OneUser("x");
    r.mutable_messages(0)->clear_role();
    cases.push_back({r, "messages[0].role: required"});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.add_messages()->set_role("assistant");
    cases.push_back({r, "messages[1].content: required (or content_parts, or tool_calls for an assistant message)"});
  }
  {
    v1::RenderRequest r = OneUser("bad \xff byte");
    cases.push_back({r, "messages[0].content: not valid UTF-8 (byte 4)"});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.set_tools_json("[{");
    cases.push_back({r, "tools_json: JSON: "});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.set_tools_json("{}");
    cases.push_back({r, "tools_json: must be a JSON array"});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.set_documents_json("nope");
    cases.push_back({r, "documents_json: JSON: "});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.set_extra_context_json("[1]");
    cases.push_back({r, "extra_context_json: must be a JSON object"});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.set_extra_context_json(R"({"messages": []})");
    cases.push_back({r, "extra_context_json: 'messages' is set by the request's own field"});
  }
  {
    v1::RenderRequest r = OneUser("x");
    v1::ToolCall* tc = r.mutable_messages(0)->add_tool_calls();
    tc->set_name("f");
    tc->set_arguments_json("{oops");
    cases.push_back({r, "messages[0].tool_calls[0].arguments_json: JSON: "});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.mutable_messages(0)->add_tool_calls()->set_arguments_json("{}");
    cases.push_back({r, "messages[0].tool_calls[0].name: required"});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.set_template_override("{% for %}");
    cases.push_back({r, "template_override: template syntax error: line 1, column 8: "});
  }
  {
    v1::RenderRequest r = OneUser("x");
    r.set_template_override(std::string(256 * 1024 + 1, 'x'));
    cases.push_back({r, "template_override: template is 262145 bytes, over the limit of 262144 bytes"});
  }
  {
    v1::RenderRequest r;
    for (int i = 0; i <= template_service::kMaxMessages; ++i) *r.add_messages() = OneUser("x").messages(0);
    cases.push_back({r, "messages: 4097 messages, the limit is 4096"});
  }
  for (const Case& c : cases) {
    absl::Status s = Render(c.req);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message << " / " << s;
    EXPECT_EQ(std::string(s.message()).rfind(c.message, 0), 0u) << "got: " << s.message();
  }
}

TEST_F(ServiceTest, TemplateErrorsCarryTheTemplatesMessage) {
  v1::RenderRequest r = OneUser("a");
  *r.add_messages() = r.messages(0);
  absl::Status s = Render(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "Conversation roles must alternate user/assistant/user/assistant/...");
  r = OneUser("a");
  r.set_template_override("{% for i in range(10**6) %}{% for j in range(10**6) %}{% endfor %}{% endfor %}");
  EXPECT_EQ(Render(r).code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(ServiceTest, ContentPartsToolCallsAndExtraContext) {
  v1::RenderRequest r;
  v1::ChatMessage* m = r.add_messages();
  m->set_role("assistant");
  v1::ContentPart* p = m->add_content_parts();
  p->set_type("text");
  p->set_text("hi");
  v1::ToolCall* tc = m->add_tool_calls();
  tc->set_id("c1");
  tc->set_name("f");
  tc->set_arguments_json(R"({"b": 1, "a": "é"})");
  tc = m->add_tool_calls();
  tc->set_name("g");
  tc->set_arguments_json(R"({"x": 1})");
  tc->set_arguments_is_string(true);
  r.set_tools_json(R"([{"type": "function"}])");
  r.set_extra_context_json(R"({"date_string": "1 Jan 2025", "flag": true})");
  r.set_template_override("{{ messages|tojson }}|{{ tools|length }}|{{ documents }}|{{ date_string }}|{{ flag }}");
  v1::RenderResponse resp;
  ASSERT_TRUE(Render(r, &resp).ok());
  EXPECT_EQ(resp.text(),
            R"([{"role": "assistant", "content": [{"type": "text", "text": "hi"}], "tool_calls": [{"id": "c1", )"
            R"("type": "function", "function": {"name": "f", "arguments": {"b": 1, "a": "é"}}}, {"type": "function", )"
            R"("function": {"name": "g", "arguments": "{\"x\": 1}"}}]}]|1|None|1 Jan 2025|True)");
}

TEST_F(ServiceTest, OverrideCacheServesRepeatedAndChangedOverrides) {
  v1::RenderRequest r = OneUser("q");
  for (int i = 0; i < 40; ++i) {
    r.set_template_override("{{ messages[0].content }}" + std::to_string(i % 20));
    v1::RenderResponse resp;
    ASSERT_TRUE(Render(r, &resp).ok());
    EXPECT_EQ(resp.text(), "q" + std::to_string(i % 20));
  }
}

TEST_F(ServiceTest, ConcurrentRendersShareTemplatesSafely) {
  // Several threads render with the model template and with overrides that churn the cache at the same time.
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        v1::RenderRequest r = OneUser("t" + std::to_string(t) + "i" + std::to_string(i));
        std::string want = "<s>[INST] " + r.messages(0).content() + " [/INST]";
        if (i % 3 == 0) {
          r.set_template_override("{{ messages[0].content }}#" + std::to_string((i + t) % 24));
          want = r.messages(0).content() + "#" + std::to_string((i + t) % 24);
        }
        v1::RenderResponse resp;
        if (!service_.DoRender(r, &resp).ok() || resp.text() != want) ++mismatches[t];
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST_F(ServiceTest, InfoDescribesTheTemplate) {
  v1::TemplateInfo info;
  service_.DoInfo(&info);
  EXPECT_EQ(info.source(), "builtin:mistral-v0.1");
  EXPECT_EQ(info.bos_token(), "<s>");
  EXPECT_EQ(info.eos_token(), "</s>");
  EXPECT_EQ(info.chat_template(), template_service::kMistralV01Template);
}

TEST(ServiceGolden, EveryCorpusCaseThroughDoRender) {
  const jinja_test::Corpus corpus = jinja_test::LoadCorpus();
  prometheus::Registry registry;
  template_service::TemplateOptions options;
  options.clock = *jinja::FixedClock("2025-03-09T08:05:03");
  ModelTemplate no_tokens{"", "test", std::nullopt, std::nullopt};
  TemplateService service(no_tokens, options, &registry);
  ASSERT_TRUE(service.Init().ok());
  int passed = 0;
  for (const jinja_test::GoldenCase& g : corpus.cases) {
    const v1::RenderRequest req = template_test::GoldenRequestFor(corpus, g);
    v1::RenderResponse resp;
    absl::Status s = service.DoRender(req, &resp);
    if (g.is_error) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << g.Name();
      if (g.raised_by_template) {
        EXPECT_EQ(s.message(), g.error_message) << g.Name();
      }
      passed += !s.ok();
      continue;
    }
    ASSERT_TRUE(s.ok()) << g.Name() << ": " << s;
    EXPECT_EQ(resp.text(), g.output) << g.Name();
    passed += resp.text() == g.output;
  }
  EXPECT_EQ(passed, 1200);
}

}  // namespace
