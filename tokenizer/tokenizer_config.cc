#include "tokenizer/tokenizer_config.h"

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"

namespace tokenizer {
namespace {

bool IsPiece(const Vocabulary& vocab, const std::string& s) {
  for (const std::string& p : vocab.pieces) {
    if (p == s) return true;
  }
  return false;
}

// Applies `field` of `json` (a string, an AddedToken object or null) to *token.
absl::Status ReadToken(const base::Json& json, const char* field, const std::string& path, const Vocabulary& vocab,
                       std::string* token) {
  const base::Json* value = json.Find(field);
  if (value == nullptr || value->is_null()) return absl::OkStatus();
  const base::Json* content = value;
  if (value->is_object()) content = value->Find("content");
  if (content == nullptr || !content->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": field '", field, "' must be a string or an object with a string 'content'"));
  }
  if (!IsPiece(vocab, content->AsString())) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": field '", field, "' names \"", content->AsString(),
                                                   "\", which is not in the vocabulary of tokenizer.model"));
  }
  *token = content->AsString();
  return absl::OkStatus();
}

absl::Status ReadBool(const base::Json& json, const char* field, const std::string& path, bool* out) {
  const base::Json* value = json.Find(field);
  if (value == nullptr || value->is_null()) return absl::OkStatus();
  if (!value->is_bool()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": field '", field, "' must be true or false"));
  }
  *out = value->AsBool();
  return absl::OkStatus();
}

absl::Status ApplyFile(const std::string& path, const Vocabulary& vocab, bool has_flags, TokenizerConfig* cfg) {
  if (!base::FileExists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(base::Json json, base::ReadJsonFile(path));
  if (!json.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": must hold a JSON object"));
  RETURN_IF_ERROR(ReadToken(json, "bos_token", path, vocab, &cfg->bos_token));
  RETURN_IF_ERROR(ReadToken(json, "eos_token", path, vocab, &cfg->eos_token));
  RETURN_IF_ERROR(ReadToken(json, "unk_token", path, vocab, &cfg->unk_token));
  if (has_flags) {
    RETURN_IF_ERROR(ReadBool(json, "add_bos_token", path, &cfg->add_bos_token));
    RETURN_IF_ERROR(ReadBool(json, "add_eos_token", path, &cfg->add_eos_token));
  }
  return absl::OkStatus();
}

std::string PieceOrEmpty(const Vocabulary& vocab, int id) {
  return id >= 0 && id < vocab.size() ? vocab.pieces[id] : std::string();
}

}  // namespace

absl::StatusOr<TokenizerConfig> LoadTokenizerConfig(const std::string& model_dir, const Vocabulary& vocab) {
  TokenizerConfig cfg;
  cfg.bos_token = PieceOrEmpty(vocab, vocab.bos_id);
  cfg.eos_token = PieceOrEmpty(vocab, vocab.eos_id);
  cfg.unk_token = PieceOrEmpty(vocab, vocab.unk_id);
  RETURN_IF_ERROR(ApplyFile(base::JoinPath(model_dir, kSpecialTokensMapFile), vocab, /*has_flags=*/false, &cfg));
  RETURN_IF_ERROR(ApplyFile(base::JoinPath(model_dir, kTokenizerConfigFile), vocab, /*has_flags=*/true, &cfg));
  return cfg;
}

}  // namespace tokenizer
