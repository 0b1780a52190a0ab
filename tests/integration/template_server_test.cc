// awqserve-template as a real process on loopback: every golden case of the chat-template corpus and every
// Mistral transformers row through the wire, bad requests with their status and message, Info, health,
// reflection, metrics, startup failures and draining on SIGTERM.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>

#include "awqserve/v1/template.grpc.pb.h"
#include "base/file.h"
#include "services/common/client_channel.h"
#include "services/common/health_client.h"
#include "tests/integration/raw_unary_call.h"
#include "tests/integration/reflection_client.h"
#include "tests/integration/server_process.h"
#include "tests/unit/jinja/golden_util.h"
#include "tests/unit/services/http_get.h"
#include "tests/unit/template/request_util.h"

namespace {

namespace v1 = awqserve::v1;
using testing_process::ServerProcess;

std::string MistralDir() { return jinja_test::SharedPath("assets/mistral-7b-instruct-v0.1"); }

class TemplateServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess;
    ASSERT_TRUE(
        server_->Start(AWQSERVE_TEMPLATE_BIN, {"--model_dir", MistralDir(), "--listen", "127.0.0.1:0",
                                               "--metrics_listen", "127.0.0.1:0", "--now", "2025-03-09T08:05:03"}))
        << server_->stderr_text();
    channel_ = new std::shared_ptr<grpc::Channel>(services::MakeChannel(server_->address()));
    stub_ = v1::PromptTemplate::NewStub(*channel_).release();
  }
  static void TearDownTestSuite() {
    delete stub_;
    delete channel_;
    EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->stderr_text();
    delete server_;
  }
  static grpc::Status Render(const v1::RenderRequest& req, v1::RenderResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->Render(&ctx, req, resp);
  }

  static ServerProcess* server_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static v1::PromptTemplate::Stub* stub_;
};

ServerProcess* TemplateServer::server_ = nullptr;
std::shared_ptr<grpc::Channel>* TemplateServer::channel_ = nullptr;
v1::PromptTemplate::Stub* TemplateServer::stub_ = nullptr;

TEST_F(TemplateServer, EveryCorpusCaseThroughTheWire) {
  const jinja_test::Corpus corpus = jinja_test::LoadCorpus();
  int passed = 0;
  for (const jinja_test::GoldenCase& g : corpus.cases) {
    // Each case passes its own template and tokens. The server's bos/eos (Mistral's) stay defined where the
    // corpus leaves a token undefined; those templates never read it, and the bytes are compared either way.
    const v1::RenderRequest req = template_test::GoldenRequestFor(corpus, g);
    v1::RenderResponse resp;
    grpc::Status s = Render(req, &resp);
    if (g.is_error) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << g.Name();
      if (g.raised_by_template) {
        EXPECT_EQ(s.error_message(), g.error_message) << g.Name();
      }
      passed += !s.ok();
      continue;
    }
    ASSERT_TRUE(s.ok()) << g.Name() << ": " << s.error_message();
    EXPECT_EQ(resp.text(), g.output) << g.Name();
    std::string joined;
    for (const v1::PromptSegment& seg : resp.segments()) joined += seg.text();
    EXPECT_EQ(joined, resp.text()) << g.Name();
    passed += resp.text() == g.output;
  }
  EXPECT_EQ(passed, 1200);
}

TEST_F(TemplateServer, MistralTransformersRowsWithTheModelsOwnTemplate) {
  const std::string lines = *base::ReadFile(MistralDir() + "/chat_golden_hf.jsonl");
  int rows = 0;
  for (size_t pos = 0, nl; pos < lines.size(); pos = nl + 1) {
    nl = lines.find('\n', pos);
    if (nl == std::string::npos) nl = lines.size();
    if (nl == pos) continue;
    const base::Json row = *base::Json::Parse(std::string_view(lines).substr(pos, nl - pos));
    ++rows;
    v1::RenderResponse resp;
    grpc::Status s = Render(template_test::RequestFor(row, false, base::Json::MakeObject()), &resp);
    if (const base::Json* err = row.Find("error")) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_EQ(s.error_message(), err->AsString());
      continue;
    }
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.text(), row.Get("text").AsString());
    // Only the template's text is trusted: user content with "<s>" is never a trusted segment.
    for (const v1::PromptSegment& seg : resp.segments())
      if (seg.trusted()) {
        EXPECT_TRUE(seg.text() == "<s>[INST] " || seg.text() == " [/INST]" || seg.text() == "</s> " ||
                    seg.text() == " [/INST]</s> " || seg.text() == "<s>[INST]  [/INST]" ||
                    seg.text() == "</s> [INST] " || seg.text() == " [/INST]</s> [INST] ")
            << "trusted segment '" << seg.text() << "'";
      }
  }
  EXPECT_EQ(rows, 16);
}

TEST_F(TemplateServer, BadRequestsAreInvalidArgumentAndTheServerKeepsServing) {
  v1::RenderResponse resp;
  grpc::Status s = Render(v1::RenderRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "messages: at least one message is required");
  v1::RenderRequest req;
  req.add_messages()->set_content("no role");
  s = Render(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "messages[0].role: required");
  req.mutable_messages(0)->set_role("user");
  req.set_extra_context_json("{");
  s = Render(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("extra_context_json: JSON:", 0), 0u) << s.error_message();
  req.clear_extra_context_json();
  req.set_template_override("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}");
  s = Render(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  req.clear_template_override();
  ASSERT_TRUE(Render(req, &resp).ok());
  EXPECT_EQ(resp.text(), "<s>[INST] no role [/INST]");
}

// A conforming client cannot send invalid UTF-8, so the request is serialized with a same-length placeholder that
// is then overwritten with bad bytes on the wire.
grpc::Status RawRender(const std::shared_ptr<grpc::Channel>& channel, const std::string& wire) {
  return testing_support::RawUnaryCall(channel, "/awqserve.v1.PromptTemplate/Render", wire);
}

std::string WithBadBytes(const v1::RenderRequest& req) {
  std::string wire = req.SerializeAsString();
  const size_t at = wire.find("PLACEHOLDER");
  wire.replace(at, 11, "bad \xff\xfe bytes", 11);
  return wire;
}

TEST_F(TemplateServer, InvalidUtf8IsInvalidArgumentNamingTheField) {
  v1::RenderRequest req;
  req.add_messages()->set_role("user");
  req.mutable_messages(0)->set_content("fine");
  req.add_messages()->set_role("assistant");
  req.mutable_messages(1)->set_content("PLACEHOLDER");
  grpc::Status s = RawRender(*channel_, WithBadBytes(req));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "messages[1].content: not valid UTF-8 (byte 4)");

  req.mutable_messages(1)->set_content("ok");
  v1::ToolCall* tc = req.mutable_messages(1)->add_tool_calls();
  tc->set_name("f");
  tc->set_arguments_json("{\"a\": \"PLACEHOLDER\"}");
  s = RawRender(*channel_, WithBadBytes(req));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "messages[1].tool_calls[0].arguments_json: not valid UTF-8 (byte 11)");

  s = RawRender(*channel_, std::string("\x0a\x05\x0a", 3));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "request: malformed protobuf wire data");
}

TEST_F(TemplateServer, InfoHealthReflectionMetrics) {
  v1::TemplateInfo info;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->Info(&ctx, v1::TemplateInfoRequest(), &info).ok());
  EXPECT_EQ(info.source(), "chat_template.jinja");
  EXPECT_EQ(info.bos_token(), "<s>");
  EXPECT_EQ(info.eos_token(), "</s>");
  EXPECT_EQ(*services::CheckHealth(**channel_, "", absl::Seconds(5)), "SERVING");
  EXPECT_EQ(*services::CheckHealth(**channel_, "readiness", absl::Seconds(5)), "SERVING");
  EXPECT_EQ(*services::CheckHealth(**channel_, "awqserve.v1.PromptTemplate", absl::Seconds(5)), "SERVING");

  absl::StatusOr<std::string> services_reply = testing_support::ReflectionListServices(*channel_);
  ASSERT_TRUE(services_reply.ok()) << services_reply.status();
  EXPECT_NE(services_reply->find("awqserve.v1.PromptTemplate"), std::string::npos);

  v1::RenderRequest req;
  req.add_messages()->set_role("user");
  req.mutable_messages(0)->set_content("hi");
  v1::RenderResponse resp;
  ASSERT_TRUE(Render(req, &resp).ok());
  const std::string metrics = testing_http::Get(server_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("awqserve_template_renders_total{result=\"ok\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("awqserve_template_renders_total{result=\"bad_request\"}"), std::string::npos);
  EXPECT_NE(metrics.find("awqserve_template_prompt_bytes_total"), std::string::npos);
  // The exposition passes Prometheus' own linter.
  const std::string path = "/tmp/awq_template_metrics_" + std::to_string(getpid()) + ".txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(metrics.c_str(), f);
  std::fclose(f);
  EXPECT_EQ(std::system(("promtool check metrics < '" + path + "'").c_str()), 0);
  std::remove(path.c_str());
  EXPECT_NE(metrics.find("awqserve_rpc_requests_total{code=\"OK\",method=\"/awqserve.v1.PromptTemplate/Render\"}"),
            std::string::npos)
      << metrics;
}

TEST(TemplateServerStartup, BadTemplateOrClockFailsWithTheReason) {
  char tmpl[] = "/tmp/awq_template_it_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  {
    std::FILE* f = std::fopen((dir + "/chat_template.jinja").c_str(), "w");
    std::fputs("{% if %}", f);
    std::fclose(f);
  }
  ServerProcess bad_template;
  EXPECT_FALSE(bad_template.Start(AWQSERVE_TEMPLATE_BIN, {"--model_dir", dir, "--listen", "127.0.0.1:0"}));
  EXPECT_EQ(bad_template.WaitExit(), 1);
  EXPECT_NE(bad_template.stderr_text().find("chat_template.jinja: template syntax error: line 1, column 7"),
            std::string::npos)
      << bad_template.stderr_text();
  std::system(("rm -rf '" + dir + "'").c_str());

  ServerProcess bad_clock;
  EXPECT_FALSE(bad_clock.Start(AWQSERVE_TEMPLATE_BIN, {"--now", "tomorrow", "--listen", "127.0.0.1:0"}));
  EXPECT_EQ(bad_clock.WaitExit(), 1);
  EXPECT_NE(bad_clock.stderr_text().find("--now: time 'tomorrow' is not of the form YYYY-MM-DDTHH:MM:SS"),
            std::string::npos)
      << bad_clock.stderr_text();
}

}  // namespace
