// The Hugging Face side files next to tokenizer.model: tokenizer_config.json and special_tokens_map.json. Both are
// optional; what they say overrides the defaults taken from the SentencePiece model. Plain data, thread-compatible.
//
//   ASSIGN_OR_RETURN(TokenizerConfig cfg, LoadTokenizerConfig("/models/mistral", sp.vocabulary()));
//   cfg.bos_token == "<s>"; cfg.add_bos_token == true;
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "tokenizer/sentencepiece_model.h"

namespace tokenizer {

struct TokenizerConfig {
  // Special-token strings; each must name a vocabulary piece. Defaults: the SentencePiece model's own pieces.
  std::string bos_token;
  std::string eos_token;
  std::string unk_token;
  // HF's add_bos_token / add_eos_token: what callers do when they do not say (Encode itself is explicit).
  bool add_bos_token = true;
  bool add_eos_token = false;
};

inline constexpr char kTokenizerConfigFile[] = "tokenizer_config.json";
inline constexpr char kSpecialTokensMapFile[] = "special_tokens_map.json";

// Reads special_tokens_map.json, then tokenizer_config.json (which wins), when present in `model_dir`. A token may
// be a string or an HF AddedToken object {"content": "<s>", ...}; null keeps the default. INVALID_ARGUMENT naming
// the file and field for malformed JSON, a wrong type, or a token string that is not a piece of `vocab`.
[[nodiscard]] absl::StatusOr<TokenizerConfig> LoadTokenizerConfig(const std::string& model_dir,
                                                                  const Vocabulary& vocab);

}  // namespace tokenizer
