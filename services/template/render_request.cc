#include "services/template/render_request.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "base/utf8.h"

namespace template_service {
namespace {

namespace v1 = awqserve::v1;

absl::Status CheckUtf8(const std::string& field, const std::string& text) {
  const size_t bad = base::FirstInvalidUtf8(text);
  if (bad == std::string::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8 (byte ", bad, ")"));
}

absl::Status InField(const std::string& field, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(field, ": ", s.message()));
}

// A `*_json` field that must hold a JSON array (empty: none).
absl::StatusOr<jinja::Value> JsonArrayField(const std::string& field, const std::string& text) {
  if (text.empty()) return jinja::Value::None();
  RETURN_IF_ERROR(CheckUtf8(field, text));
  absl::StatusOr<base::Json> j = base::Json::Parse(text);
  if (!j.ok()) return InField(field, j.status());
  if (!j->is_array()) return absl::InvalidArgumentError(absl::StrCat(field, ": must be a JSON array"));
  return jinja::Value::FromJson(*j, /*trusted=*/false);
}

// Request data: an untrusted string.
jinja::Value Data(const std::string& s) { return jinja::Value::String(s, /*trusted=*/false); }

absl::StatusOr<jinja::Value> MessageValue(const v1::ChatMessage& m, const std::string& field) {
  if (m.role().empty()) return absl::InvalidArgumentError(absl::StrCat(field, ".role: required"));
  RETURN_IF_ERROR(CheckUtf8(field + ".role", m.role()));
  if (!m.has_content() && m.content_parts_size() == 0 && m.tool_calls_size() == 0)
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".content: required (or content_parts, or tool_calls for an assistant message)"));
  jinja::Dict msg;
  msg.entries.reserve(5);
  msg.entries.emplace_back(Data("role"), Data(m.role()));
  if (!m.tool_call_id().empty()) {
    RETURN_IF_ERROR(CheckUtf8(field + ".tool_call_id", m.tool_call_id()));
    msg.entries.emplace_back(Data("tool_call_id"), Data(m.tool_call_id()));
  }
  if (!m.name().empty()) {
    RETURN_IF_ERROR(CheckUtf8(field + ".name", m.name()));
    msg.entries.emplace_back(Data("name"), Data(m.name()));
  }
  if (m.content_parts_size() > 0) {
    jinja::List parts;
    for (int i = 0; i < m.content_parts_size(); ++i) {
      const v1::ContentPart& p = m.content_parts(i);
      const std::string pf = absl::StrCat(field, ".content_parts[", i, "]");
      if (p.type().empty()) return absl::InvalidArgumentError(pf + ".type: required");
      RETURN_IF_ERROR(CheckUtf8(pf + ".type", p.type()));
      RETURN_IF_ERROR(CheckUtf8(pf + ".text", p.text()));
      jinja::Dict part;
      part.entries.emplace_back(Data("type"), Data(p.type()));
      if (p.type() == "text" || !p.text().empty()) part.entries.emplace_back(Data("text"), Data(p.text()));
      parts.push_back(jinja::Value::MakeDict(std::move(part)));
    }
    msg.entries.emplace_back(Data("content"), jinja::Value::MakeList(std::move(parts)));
  } else if (m.has_content()) {
    RETURN_IF_ERROR(CheckUtf8(field + ".content", m.content()));
    msg.entries.emplace_back(Data("content"), Data(m.content()));
  }
  if (m.tool_calls_size() > 0) {
    jinja::List calls;
    for (int i = 0; i < m.tool_calls_size(); ++i) {
      const v1::ToolCall& tc = m.tool_calls(i);
      const std::string tf = absl::StrCat(field, ".tool_calls[", i, "]");
      if (tc.name().empty()) return absl::InvalidArgumentError(tf + ".name: required");
      for (const auto& [sub, text] : {std::pair<const char*, const std::string*>{".id", &tc.id()},
                                      {".type", &tc.type()},
                                      {".name", &tc.name()},
                                      {".arguments_json", &tc.arguments_json()}})
        RETURN_IF_ERROR(CheckUtf8(tf + sub, *text));
      jinja::Dict function;
      function.entries.emplace_back(Data("name"), Data(tc.name()));
      if (tc.arguments_is_string()) {
        function.entries.emplace_back(Data("arguments"), Data(tc.arguments_json()));
      } else {
        absl::StatusOr<base::Json> args =
            tc.arguments_json().empty() ? base::Json::MakeObject() : base::Json::Parse(tc.arguments_json());
        if (!args.ok()) return InField(tf + ".arguments_json", args.status());
        function.entries.emplace_back(Data("arguments"), jinja::Value::FromJson(*args, /*trusted=*/false));
      }
      jinja::Dict call;
      if (!tc.id().empty()) call.entries.emplace_back(Data("id"), Data(tc.id()));
      call.entries.emplace_back(Data("type"), Data(tc.type().empty() ? std::string("function") : tc.type()));
      call.entries.emplace_back(Data("function"), jinja::Value::MakeDict(std::move(function)));
      calls.push_back(jinja::Value::MakeDict(std::move(call)));
    }
    msg.entries.emplace_back(Data("tool_calls"), jinja::Value::MakeList(std::move(calls)));
  }
  return jinja::Value::MakeDict(std::move(msg));
}

}  // namespace

absl::StatusOr<jinja::Context> ContextFromRequest(const v1::RenderRequest& request, const ModelTemplate& model) {
  if (request.messages_size() == 0) return absl::InvalidArgumentError("messages: at least one message is required");
  if (request.messages_size() > kMaxMessages)
    return absl::InvalidArgumentError(
        absl::StrCat("messages: ", request.messages_size(), " messages, the limit is ", kMaxMessages));
  jinja::List messages;
  messages.reserve(request.messages_size());
  for (int i = 0; i < request.messages_size(); ++i) {
    ASSIGN_OR_RETURN(jinja::Value m, MessageValue(request.messages(i), absl::StrCat("messages[", i, "]")));
    messages.push_back(std::move(m));
  }
  jinja::Context ctx;
  ctx.Set("messages", jinja::Value::MakeList(std::move(messages)));
  ctx.Set("add_generation_prompt", jinja::Value::Bool(request.add_generation_prompt()));
  ASSIGN_OR_RETURN(jinja::Value tools, JsonArrayField("tools_json", request.tools_json()));
  ctx.Set("tools", std::move(tools));
  ASSIGN_OR_RETURN(jinja::Value documents, JsonArrayField("documents_json", request.documents_json()));
  ctx.Set("documents", std::move(documents));
  // The model's own special tokens are configuration, not request data: the template may emit them as control
  // tokens.
  if (model.bos_token) ctx.Set("bos_token", jinja::Value::String(*model.bos_token, /*trusted=*/true));
  if (model.eos_token) ctx.Set("eos_token", jinja::Value::String(*model.eos_token, /*trusted=*/true));
  if (!request.extra_context_json().empty()) {
    RETURN_IF_ERROR(CheckUtf8("extra_context_json", request.extra_context_json()));
    absl::StatusOr<base::Json> extra = base::Json::Parse(request.extra_context_json());
    if (!extra.ok()) return InField("extra_context_json", extra.status());
    if (!extra->is_object()) return absl::InvalidArgumentError("extra_context_json: must be a JSON object");
    for (const auto& [key, value] : extra->members()) {
      if (key == "messages" || key == "add_generation_prompt" || key == "tools" || key == "documents")
        return absl::InvalidArgumentError(
            absl::StrCat("extra_context_json: '", key, "' is set by the request's own field"));
      ctx.Set(key, jinja::Value::FromJson(value, /*trusted=*/false));
    }
  }
  return ctx;
}

}  // namespace template_service
