// Loading the chat-template golden corpus (../shared/assets/chat-templates) for the engine and service tests.
// Plain data; not thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/json.h"

namespace jinja_test {

inline std::string SharedPath(const std::string& rel) { return std::string(AWQSERVE_SHARED_DIR) + "/" + rel; }

struct GoldenCase {
  std::string template_name;
  std::string conversation;
  bool add_generation_prompt = false;
  bool is_error = false;
  std::string output;         // when !is_error
  std::string error_message;  // when is_error
  bool raised_by_template = false;
  std::string Name() const { return template_name + "/" + conversation + (add_generation_prompt ? "/gen" : "/nogen"); }
};

struct Corpus {
  base::Json index;
  std::map<std::string, base::Json> conversations;  // id -> conversation
  std::map<std::string, std::string> templates;     // name -> source
  std::vector<GoldenCase> cases;
};

inline Corpus LoadCorpus() {
  Corpus c;
  const std::string dir = SharedPath("assets/chat-templates");
  c.index = *base::ReadJsonFile(dir + "/index.json");
  for (const auto& [name, entry] : c.index.members())
    c.templates[name] = *base::ReadFile(dir + "/" + entry.Get("file").AsString());
  base::Json convs = *base::ReadJsonFile(dir + "/conversations.json");
  for (const base::Json& conv : convs.items()) c.conversations[conv.Get("id").AsString()] = conv;
  const std::string lines = *base::ReadFile(dir + "/golden.jsonl");
  size_t pos = 0;
  while (pos < lines.size()) {
    size_t nl = lines.find('\n', pos);
    if (nl == std::string::npos) nl = lines.size();
    if (nl > pos) {
      base::Json row = *base::Json::Parse(std::string_view(lines).substr(pos, nl - pos));
      GoldenCase g;
      g.template_name = row.Get("template").AsString();
      g.conversation = row.Get("conversation").AsString();
      g.add_generation_prompt = row.Get("add_generation_prompt").AsBool();
      if (const base::Json* err = row.Find("error")) {
        g.is_error = true;
        g.error_message = err->Get("message").AsString();
        g.raised_by_template = err->Get("raised_by_template").AsBool();
      } else {
        g.output = row.Get("output").AsString();
      }
      c.cases.push_back(std::move(g));
    }
    pos = nl + 1;
  }
  return c;
}

}  // namespace jinja_test
