// `awqserve render`: a conversation (one JSON object on stdin) to the prompt text a chat template makes of it, in
// process (--template FILE, or --model DIR's own template) or through the template sidecar (--server ADDR).
// The prompt is written to stdout exactly, with no newline added. A template error (the template's
// raise_exception, a runtime error, a limit) exits with status 2 and the template's message on stderr; any other
// failure exits with 1.
//
// stdin: {"messages": [...], "tools"?: [...], "documents"?: [...], "add_generation_prompt"?: bool, ...}; every
// other key is an extra template variable (e.g. "date_string"). tools and documents are none when absent.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "awqserve/v1/template.grpc.pb.h"
#include "base/file.h"
#include "base/json.h"
#include "services/cli/command.h"
#include "services/common/client_channel.h"
#include "services/common/status.h"
#include "services/template/jinja/template.h"
#include "services/template/model_template.h"

namespace cli {
namespace {

namespace v1 = awqserve::v1;

constexpr int kTemplateErrorExit = 2;
constexpr int kRpcTimeoutSeconds = 30;

const Command& RenderCmd();

// A template error: the template's message alone, verbatim, and exit status 2.
int TemplateError(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  return kTemplateErrorExit;
}

bool IsReservedKey(const std::string& key) {
  return key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt";
}

absl::StatusOr<base::Json> ReadInput() {
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  absl::StatusOr<base::Json> input = base::Json::Parse(text);
  if (!input.ok()) return absl::InvalidArgumentError(absl::StrCat("stdin: ", input.status().message()));
  if (!input->is_object()) return absl::InvalidArgumentError("stdin: expected one JSON object {\"messages\": [...]}");
  if (!input->Get("messages").is_array())
    return absl::InvalidArgumentError("stdin: \"messages\" must be a list of messages");
  for (const char* key : {"tools", "documents"})
    if (input->Has(key) && !input->Get(key).is_array() && !input->Get(key).is_null())
      return absl::InvalidArgumentError(absl::StrCat("stdin: \"", key, "\" must be a list"));
  return input;
}

bool AddGenerationPrompt(const Args& args, const base::Json& input) {
  return args.Has("add-generation-prompt") ||
         (input.Get("add_generation_prompt").is_bool() && input.Get("add_generation_prompt").AsBool());
}

int RenderLocal(const Args& args, const base::Json& input) {
  template_service::ModelTemplate model;
  if (args.Has("template")) {
    absl::StatusOr<std::string> source = base::ReadFile(args.Get("template"));
    if (!source.ok()) return Fail(RenderCmd(), absl::StrCat("--template: ", source.status().message()));
    model.chat_template = *std::move(source);
  } else {
    absl::StatusOr<template_service::ModelTemplate> loaded = template_service::LoadModelTemplate(args.Get("model"));
    if (!loaded.ok()) return Fail(RenderCmd(), absl::StrCat("--model: ", loaded.status().message()));
    model = *std::move(loaded);
  }
  if (args.Has("bos")) model.bos_token = args.Get("bos");
  if (args.Has("eos")) model.eos_token = args.Get("eos");

  absl::StatusOr<jinja::Template> tmpl = jinja::Template::Parse(model.chat_template);
  if (!tmpl.ok()) return TemplateError(tmpl.status());
  jinja::Context ctx;
  // Everything from stdin is data; the tokens given on the command line or by the model are configuration.
  ctx.Set("messages", jinja::Value::FromJson(input.Get("messages"), /*trusted=*/false));
  ctx.Set("add_generation_prompt", jinja::Value::Bool(AddGenerationPrompt(args, input)));
  ctx.Set("tools", jinja::Value::FromJson(input.Get("tools"), false));
  ctx.Set("documents", jinja::Value::FromJson(input.Get("documents"), false));
  if (model.bos_token) ctx.Set("bos_token", jinja::Value::String(*model.bos_token, true));
  if (model.eos_token) ctx.Set("eos_token", jinja::Value::String(*model.eos_token, true));
  for (const auto& [key, value] : input.members())
    if (!IsReservedKey(key)) ctx.Set(key, jinja::Value::FromJson(value, false));
  if (args.Has("now")) {
    absl::StatusOr<jinja::Clock> clock = jinja::FixedClock(args.Get("now"));
    if (!clock.ok()) return Fail(RenderCmd(), absl::StrCat("--now: ", clock.status().message()));
    ctx.set_clock(*clock);
  }
  absl::StatusOr<jinja::RenderResult> result = tmpl->Render(ctx);
  if (!result.ok()) return TemplateError(result.status());
  std::fwrite(result->text.data(), 1, result->text.size(), stdout);
  return 0;
}

// A JSON message (as transformers takes it) to the proto. Content: a string, or a list of {"type", "text"} parts.
absl::Status ToProto(const base::Json& m, const std::string& field, v1::ChatMessage* msg) {
  if (!m.is_object()) return absl::InvalidArgumentError(field + ": must be an object");
  if (!m.Get("role").is_string()) return absl::InvalidArgumentError(field + ".role: must be a string");
  msg->set_role(m.Get("role").AsString());
  const base::Json& content = m.Get("content");
  if (content.is_string()) {
    msg->set_content(content.AsString());
  } else if (content.is_array()) {
    for (const base::Json& part : content.items()) {
      v1::ContentPart* p = msg->add_content_parts();
      p->set_type(part.Get("type").is_string() ? part.Get("type").AsString() : "");
      p->set_text(part.Get("text").is_string() ? part.Get("text").AsString() : "");
    }
  } else if (!content.is_null()) {
    return absl::InvalidArgumentError(field + ".content: must be a string or a list of parts");
  }
  if (m.Get("name").is_string()) msg->set_name(m.Get("name").AsString());
  if (m.Get("tool_call_id").is_string()) msg->set_tool_call_id(m.Get("tool_call_id").AsString());
  for (const base::Json& tc : m.Get("tool_calls").items()) {
    v1::ToolCall* call = msg->add_tool_calls();
    const base::Json& fn = tc.Get("function");
    if (tc.Get("id").is_string()) call->set_id(tc.Get("id").AsString());
    if (tc.Get("type").is_string()) call->set_type(tc.Get("type").AsString());
    if (fn.Get("name").is_string()) call->set_name(fn.Get("name").AsString());
    const base::Json& arguments = fn.Get("arguments");
    call->set_arguments_is_string(arguments.is_string());
    call->set_arguments_json(arguments.is_string() ? arguments.AsString() : arguments.Dump());
  }
  return absl::OkStatus();
}

int RenderRemote(const Args& args, const base::Json& input) {
  if (args.Has("now"))
    return Fail(RenderCmd(), "--now: the server's clock is its own (start awqserve-template with --now)");
  v1::RenderRequest request;
  const base::Json& messages = input.Get("messages");
  for (size_t i = 0; i < messages.items().size(); ++i) {
    absl::Status s = ToProto(messages.items()[i], absl::StrCat("stdin: messages[", i, "]"), request.add_messages());
    if (!s.ok()) return Fail(RenderCmd(), std::string(s.message()));
  }
  request.set_add_generation_prompt(AddGenerationPrompt(args, input));
  if (input.Get("tools").is_array()) request.set_tools_json(input.Get("tools").Dump());
  if (input.Get("documents").is_array()) request.set_documents_json(input.Get("documents").Dump());
  base::Json extra = base::Json::MakeObject();
  for (const auto& [key, value] : input.members())
    if (!IsReservedKey(key)) extra.Set(key, value);
  if (args.Has("bos")) extra.Set("bos_token", args.Get("bos"));
  if (args.Has("eos")) extra.Set("eos_token", args.Get("eos"));
  if (extra.size() > 0) request.set_extra_context_json(extra.Dump());

  auto stub = v1::PromptTemplate::NewStub(services::MakeChannel(args.Get("server")));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kRpcTimeoutSeconds));
  v1::RenderResponse response;
  const absl::Status status = services::FromGrpcStatus(stub->Render(&context, request, &response));
  if (status.code() == absl::StatusCode::kInvalidArgument || status.code() == absl::StatusCode::kResourceExhausted)
    return TemplateError(status);
  if (!status.ok()) return Fail(RenderCmd(), absl::StrCat(args.Get("server"), ": ", status.ToString()));
  std::fwrite(response.text().data(), 1, response.text().size(), stdout);
  return 0;
}

int RunRender(const Args& args) {
  const int sources = args.Has("template") + args.Has("model") + args.Has("server");
  if (sources != 1) return Fail(RenderCmd(), "give exactly one of --template FILE, --model DIR or --server HOST:PORT");
  absl::StatusOr<base::Json> input = ReadInput();
  if (!input.ok()) return Fail(RenderCmd(), std::string(input.status().message()));
  return args.Has("server") ? RenderRemote(args, *input) : RenderLocal(args, *input);
}

const Command& RenderCmd() {
  static const Command cmd{
      "render",
      "Chat messages (one JSON object on stdin) to the prompt a chat template makes of them, printed exactly.",
      "awqserve render (--template FILE | --model DIR | --server HOST:PORT) [--add-generation-prompt] [--bos S] "
      "[--eos S] [--now YYYY-MM-DDTHH:MM:SS] < conversation.json",
      {{"template", true, "a Jinja chat template file (bos/eos undefined unless --bos/--eos)"},
       {"model", true, "a model folder: its chat template and bos/eos tokens"},
       {"server", true, "an awqserve-template sidecar (its model's template and tokens)"},
       {"add-generation-prompt", false, "end the prompt where the assistant's answer begins"},
       {"bos", true, "the bos_token variable"},
       {"eos", true, "the eos_token variable"},
       {"now", true, "freeze the clock strftime_now reads (local time), e.g. 2025-03-09T08:05:03"}},
      0,
      0,
      &RunRender};
  return cmd;
}

}  // namespace

const Command& RenderCommand() { return RenderCmd(); }

}  // namespace cli
