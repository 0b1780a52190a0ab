// Golden conversations (JSON, as conversations.json holds them) to RenderRequests, for the service tests.
#pragma once

#include <string>

#include "awqserve/v1/template.pb.h"
#include "base/json.h"
#include "tests/unit/jinja/golden_util.h"

namespace template_test {

// messages -> ChatMessage, tools/documents -> *_json, extra (an object) -> extra_context_json.
inline awqserve::v1::RenderRequest RequestFor(const base::Json& conversation, bool add_generation_prompt,
                                              const base::Json& extra) {
  awqserve::v1::RenderRequest req;
  for (const base::Json& m : conversation.Get("messages").items()) {
    awqserve::v1::ChatMessage* msg = req.add_messages();
    msg->set_role(m.Get("role").AsString());
    if (m.Get("content").is_string()) msg->set_content(m.Get("content").AsString());
    if (m.Get("name").is_string()) msg->set_name(m.Get("name").AsString());
    if (m.Get("tool_call_id").is_string()) msg->set_tool_call_id(m.Get("tool_call_id").AsString());
    for (const base::Json& tc : m.Get("tool_calls").items()) {
      awqserve::v1::ToolCall* call = msg->add_tool_calls();
      call->set_id(tc.Get("id").AsString());
      call->set_type(tc.Get("type").AsString());
      call->set_name(tc.Get("function").Get("name").AsString());
      const base::Json& args = tc.Get("function").Get("arguments");
      call->set_arguments_is_string(args.is_string());
      call->set_arguments_json(args.is_string() ? args.AsString() : args.Dump());
    }
  }
  req.set_add_generation_prompt(add_generation_prompt);
  if (conversation.Has("tools")) req.set_tools_json(conversation.Get("tools").Dump());
  if (conversation.Has("documents")) req.set_documents_json(conversation.Get("documents").Dump());
  if (extra.size() > 0) req.set_extra_context_json(extra.Dump());
  return req;
}

// One case of the chat-template corpus as a request: the case's own template as the override, its conversation's
// extra variables, and the bos/eos tokens the corpus passes (as extra variables: request data).
inline awqserve::v1::RenderRequest GoldenRequestFor(const jinja_test::Corpus& corpus, const jinja_test::GoldenCase& g) {
  const base::Json& entry = corpus.index.Get(g.template_name);
  base::Json extra = corpus.conversations.at(g.conversation).Get("extra_vars");
  if (extra.is_null()) extra = base::Json::MakeObject();
  if (entry.Get("bos_token").is_string()) extra.Set("bos_token", entry.Get("bos_token"));
  if (entry.Get("eos_token").is_string()) extra.Set("eos_token", entry.Get("eos_token"));
  awqserve::v1::RenderRequest req = RequestFor(corpus.conversations.at(g.conversation), g.add_generation_prompt, extra);
  req.set_template_override(corpus.templates.at(g.template_name));
  return req;
}

}  // namespace template_test
