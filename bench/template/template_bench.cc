// Render latency of Mistral v0.1's chat template for a 20-turn conversation: the engine in process (render alone,
// and JSON-to-context plus render), the service's DoRender (proto in, proto with segments out), and the Render RPC
// over loopback (an in-process server, or --server ADDR for a running awqserve-template).
//
//   template_bench [--iterations N] [--rpc_iterations N] [--server HOST:PORT]
//
// Prints p50 / p90 / p99 / mean in microseconds per path. Target (issue 3): p50 under 50 µs in process.
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "awqserve/v1/template.grpc.pb.h"
#include "base/json.h"
#include "services/common/client_channel.h"
#include "services/common/service_host.h"
#include "services/template/jinja/template.h"
#include "services/template/model_template.h"
#include "services/template/template_service.h"

namespace {

namespace v1 = awqserve::v1;
using Clock = std::chrono::steady_clock;

constexpr int kTurns = 20;  // messages, alternating user and assistant
constexpr int kWarmup = 200;

// A plausible chat: alternating user questions and longer assistant answers, ~60 and ~300 characters.
base::Json Conversation() {
  base::Json messages = base::Json::MakeArray();
  for (int i = 0; i < kTurns; ++i) {
    base::Json m = base::Json::MakeObject();
    const bool user = i % 2 == 0;
    m.Set("role", user ? "user" : "assistant");
    std::string content = user ? "Question " + std::to_string(i) + ": how does the paged KV cache keep blocks?"
                               : "Answer " + std::to_string(i) + ": ";
    if (!user)
      for (int k = 0; k < 6; ++k) content += "Each sequence owns a list of fixed-size blocks of key/value rows. ";
    m.Set("content", content);
    messages.Append(std::move(m));
  }
  return messages;
}

struct Stats {
  double p50, p90, p99, mean;
};

template <typename Fn>
Stats Measure(int iterations, Fn fn) {
  for (int i = 0; i < std::min(kWarmup, iterations); ++i) fn();
  std::vector<double> us(iterations);
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = Clock::now();
    fn();
    us[i] = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }
  double sum = 0;
  for (double u : us) sum += u;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * us.size()))]; };
  return {at(0.50), at(0.90), at(0.99), sum / us.size()};
}

void Print(const char* what, int iterations, const Stats& s) {
  std::printf("%-44s n=%-6d p50 %8.2f us  p90 %8.2f us  p99 %8.2f us  mean %8.2f us\n", what, iterations, s.p50, s.p90,
              s.p99, s.mean);
}

bool Check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "template_bench: %s failed\n", what);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 20000, rpc_iterations = 2000;
  std::string server;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--iterations"))
      iterations = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rpc_iterations"))
      rpc_iterations = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--server"))
      server = argv[i + 1];
  }
  const template_service::ModelTemplate model = template_service::BuiltinTemplate();
  absl::StatusOr<jinja::Template> tmpl = jinja::Template::Parse(model.chat_template);
  if (!Check(tmpl.ok(), "parse")) return 1;
  const base::Json messages = Conversation();

  jinja::Context ctx;
  ctx.Set("messages", jinja::Value::FromJson(messages, false));
  ctx.Set("add_generation_prompt", jinja::Value::Bool(false));
  ctx.Set("bos_token", jinja::Value::String("<s>", true));
  ctx.Set("eos_token", jinja::Value::String("</s>", true));
  absl::StatusOr<jinja::RenderResult> first = tmpl->Render(ctx);
  if (!Check(first.ok(), "render")) return 1;
  std::printf("prompt: %zu bytes, %zu segments, %d messages\n", first->text.size(), first->segments.size(), kTurns);

  Print("engine: Render (context prebuilt)", iterations, Measure(iterations, [&] { (void)tmpl->Render(ctx); }));
  Print("engine: JSON -> context + Render", iterations, Measure(iterations, [&] {
          jinja::Context c;
          c.Set("messages", jinja::Value::FromJson(messages, false));
          c.Set("add_generation_prompt", jinja::Value::Bool(false));
          c.Set("bos_token", jinja::Value::String("<s>", true));
          c.Set("eos_token", jinja::Value::String("</s>", true));
          (void)tmpl->Render(c);
        }));

  v1::RenderRequest request;
  for (const base::Json& m : messages.items()) {
    v1::ChatMessage* msg = request.add_messages();
    msg->set_role(m.Get("role").AsString());
    msg->set_content(m.Get("content").AsString());
  }
  prometheus::Registry registry;
  template_service::TemplateService direct(model, {}, &registry);
  if (!Check(direct.Init().ok(), "service init")) return 1;
  Print("service: DoRender (proto in, proto out)", iterations, Measure(iterations, [&] {
          v1::RenderResponse response;
          (void)direct.DoRender(request, &response);
        }));

  std::unique_ptr<services::ServiceHost> host;
  std::unique_ptr<template_service::TemplateService> service;
  if (server.empty()) {
    host = std::make_unique<services::ServiceHost>(services::ServerOptions{"template_bench", "127.0.0.1:0"});
    service = std::make_unique<template_service::TemplateService>(model, template_service::TemplateOptions{},
                                                                  &host->metrics().registry());
    if (!Check(service->Init().ok(), "service init")) return 1;
    host->AddService(service.get(), v1::PromptTemplate::service_full_name());
    if (!Check(host->Start(/*ready=*/true).ok(), "server start")) return 1;
    server = host->address();
  }
  auto stub = v1::PromptTemplate::NewStub(services::MakeChannel(server));
  bool rpc_ok = true;
  Print("rpc: Render over loopback (unary, one channel)", rpc_iterations, Measure(rpc_iterations, [&] {
          grpc::ClientContext context;
          v1::RenderResponse response;
          rpc_ok = rpc_ok && stub->Render(&context, request, &response).ok();
        }));
  if (host) host->Drain();
  return Check(rpc_ok, "rpc") ? 0 : 1;
}
