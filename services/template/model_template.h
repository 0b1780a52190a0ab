// The chat template of a model folder and its special tokens, as transformers finds them: chat_template.jinja
// (which takes precedence, as in transformers), else tokenizer_config.json's `chat_template` (a string, or a list
// of {name, template} from which "default" is taken), else the built-in Mistral v0.1 template. bos/eos tokens come
// from tokenizer_config.json, else special_tokens_map.json (a string or an AddedToken object {"content": ...}),
// else, with the built-in template only, Mistral's "<s>" and "</s>".
// Plain data and pure functions; thread-safe.
//
//   ASSIGN_OR_RETURN(template_service::ModelTemplate mt, template_service::LoadModelTemplate("/models/mistral"));
//   mt.source  // "chat_template.jinja"
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace template_service {

inline constexpr char kBuiltinSource[] = "builtin:mistral-v0.1";

// Mistral-7B-Instruct-v0.1's chat template, byte for byte as published in its tokenizer_config.json.
extern const char kMistralV01Template[];

struct ModelTemplate {
  std::string chat_template;
  std::string source;                    // "chat_template.jinja", "tokenizer_config.json" or kBuiltinSource
  std::optional<std::string> bos_token;  // absent: the variable is undefined in the template
  std::optional<std::string> eos_token;
};

// The built-in template with Mistral's "<s>" and "</s>".
ModelTemplate BuiltinTemplate();

// Reads DIR as described above. An empty `model_dir` gives BuiltinTemplate(). Errors name the file.
[[nodiscard]] absl::StatusOr<ModelTemplate> LoadModelTemplate(const std::string& model_dir);

}  // namespace template_service
