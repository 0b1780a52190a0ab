#include "services/template/model_template.h"

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/json.h"
#include "base/status_macros.h"

namespace template_service {

const char kMistralV01Template[] =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

namespace {

// A special token entry: "<s>" or {"content": "<s>", ...}; null or absent: nullopt.
absl::StatusOr<std::optional<std::string>> TokenOf(const base::Json& config, const char* key, const std::string& file) {
  const base::Json* v = config.Find(key);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (v->is_string()) return std::optional<std::string>(v->AsString());
  if (v->is_object() && v->Get("content").is_string()) return std::optional<std::string>(v->Get("content").AsString());
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", key, " must be a string or an object with \"content\""));
}

}  // namespace

ModelTemplate BuiltinTemplate() { return {kMistralV01Template, kBuiltinSource, "<s>", "</s>"}; }

absl::StatusOr<ModelTemplate> LoadModelTemplate(const std::string& model_dir) {
  if (model_dir.empty()) return BuiltinTemplate();
  ModelTemplate mt;
  const std::string config_path = base::JoinPath(model_dir, "tokenizer_config.json");
  base::Json config;
  if (base::FileExists(config_path)) {
    ASSIGN_OR_RETURN(config, base::ReadJsonFile(config_path));
  }

  const std::string jinja_path = base::JoinPath(model_dir, "chat_template.jinja");
  if (base::FileExists(jinja_path)) {
    ASSIGN_OR_RETURN(mt.chat_template, base::ReadFile(jinja_path));
    mt.source = "chat_template.jinja";
  } else if (const base::Json* t = config.Find("chat_template"); t != nullptr && !t->is_null()) {
    if (t->is_string()) {
      mt.chat_template = t->AsString();
    } else if (t->is_array()) {
      for (const base::Json& named : t->items())
        if (named.Get("name").is_string() && named.Get("name").AsString() == "default" &&
            named.Get("template").is_string())
          mt.chat_template = named.Get("template").AsString();
      if (mt.chat_template.empty())
        return absl::InvalidArgumentError(absl::StrCat(config_path, ": chat_template has no \"default\" template"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": chat_template must be a string or a list"));
    }
    mt.source = "tokenizer_config.json";
  } else {
    mt.chat_template = kMistralV01Template;
    mt.source = kBuiltinSource;
  }

  ASSIGN_OR_RETURN(mt.bos_token, TokenOf(config, "bos_token", config_path));
  ASSIGN_OR_RETURN(mt.eos_token, TokenOf(config, "eos_token", config_path));
  const std::string map_path = base::JoinPath(model_dir, "special_tokens_map.json");
  if ((!mt.bos_token || !mt.eos_token) && base::FileExists(map_path)) {
    ASSIGN_OR_RETURN(base::Json map, base::ReadJsonFile(map_path));
    if (!mt.bos_token) {
      ASSIGN_OR_RETURN(mt.bos_token, TokenOf(map, "bos_token", map_path));
    }
    if (!mt.eos_token) {
      ASSIGN_OR_RETURN(mt.eos_token, TokenOf(map, "eos_token", map_path));
    }
  }
  // The built-in template is Mistral's, written for Mistral's "<s>" and "</s>": a folder that names no tokens of
  // its own (a bare SentencePiece model, like the tiny story model) gets those, so multi-turn chats render.
  if (mt.source == kBuiltinSource) {
    const ModelTemplate builtin = BuiltinTemplate();
    if (!mt.bos_token) mt.bos_token = builtin.bos_token;
    if (!mt.eos_token) mt.eos_token = builtin.eos_token;
  }
  return mt;
}

}  // namespace template_service
