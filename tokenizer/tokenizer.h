// The model's tokenizer: SentencePiece plus Hugging Face's special-token handling for Mistral v0.1 (legacy
// LlamaTokenizer), and decoding. See ARCHITECTURE.md "Contracts worth stating once".
//
// Encoding with parse_special: the special-token strings (bos/eos/unk, normally "<s>", "</s>", "<unk>") found in
// the text become their ids, and every non-empty stretch of text between them is encoded by SentencePiece on its
// own, dummy prefix included ("<s>[INST] Hi" -> 1, ▁[, INST, ], ▁Hi). Without parse_special the whole text is one
// SentencePiece call and those strings are plain characters.
// EncodeSegments: a special-token string is recognised only when all of its bytes lie in trusted segments;
// segment borders mean nothing else, so the text between two recognised tokens is one SentencePiece call even when
// it spans several segments, and an all-trusted prompt encodes exactly like Encode(concatenation).
//
// Ownership: Load returns a Tokenizer owning the SentencePiece model and vocabulary.
// Thread-safety: immutable after Load; all const methods may be called concurrently. Decoders it hands out point
// into it and must not outlive it.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, Tokenizer::Load("/models/mistral"));
//   ASSIGN_OR_RETURN(std::vector<int> ids, tok->Encode("Hello world!", /*add_bos=*/true, /*parse_special=*/false));
//   // ids == {1, 22557, 1526, 28808}
//   ASSIGN_OR_RETURN(std::string text, tok->Decode(ids, /*skip_special=*/true));   // "Hello world!"
//   ASSIGN_OR_RETURN(std::vector<std::string> texts, tok->TokenTexts(ids));        // "<s>", " Hello", " world", "!"
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer_config.h"

namespace tokenizer {

inline constexpr char kModelFile[] = "tokenizer.model";

// One piece of a rendered prompt; `trusted` text (the chat template's own) may hold special tokens.
struct Segment {
  std::string_view text;
  bool trusted = false;
};

class Tokenizer {
 public:
  // Loads DIR/tokenizer.model and, when present, DIR/tokenizer_config.json and DIR/special_tokens_map.json.
  // NOT_FOUND / INVALID_ARGUMENT messages name the file and the reason.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& model_dir);

  // INVALID_ARGUMENT "invalid UTF-8 at byte N" for malformed text.
  [[nodiscard]] absl::StatusOr<std::vector<int>> Encode(std::string_view text, bool add_bos,
                                                        bool parse_special) const;
  // As Encode, with special tokens recognised only inside trusted segments (see above). The UTF-8 error names
  // the segment: "segments[i].text: invalid UTF-8 at byte N".
  [[nodiscard]] absl::StatusOr<std::vector<int>> EncodeSegments(absl::Span<const Segment> segments, bool add_bos,
                                                                bool parse_special) const;

  // The text of `ids` (rules in incremental_decoder.h). INVALID_ARGUMENT naming the first id out of range.
  [[nodiscard]] absl::StatusOr<std::string> Decode(absl::Span<const int> ids, bool skip_special) const;
  IncrementalDecoder NewDecoder(bool skip_special) const { return IncrementalDecoder(&vocab(), skip_special); }
  // The text each id adds on its own in the middle of a sequence (what a logprob entry shows): a piece's U+2581 as
  // a space, an ASCII byte piece as its byte, any other byte piece as U+FFFD, control and unknown pieces as their
  // piece string. INVALID_ARGUMENT naming the first id out of range.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> TokenTexts(absl::Span<const int> ids) const;

  const Vocabulary& vocab() const { return sp_->vocabulary(); }
  const TokenizerConfig& config() const { return config_; }
  const SentencePieceModel& sentencepiece() const { return *sp_; }
  int vocab_size() const { return vocab().size(); }
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int unk_id() const { return unk_id_; }
  int pad_id() const { return vocab().pad_id; }
  const std::string& model_dir() const { return model_dir_; }

 private:
  struct SpecialToken {
    std::string text;
    int id;
  };
  Tokenizer() = default;
  // Encodes `text` (the concatenation of the segments) whose byte i is trusted iff trusted(i).
  template <typename TrustedFn>
  absl::StatusOr<std::vector<int>> EncodeImpl(std::string_view text, TrustedFn trusted, bool add_bos,
                                              bool parse_special) const;
  absl::Status EncodeText(std::string_view text, std::vector<int>* ids) const;

  std::unique_ptr<SentencePieceModel> sp_;
  TokenizerConfig config_;
  std::vector<SpecialToken> specials_;  // longest first, so a longer token wins at the same position
  int bos_id_ = -1, eos_id_ = -1, unk_id_ = -1;
  std::string model_dir_;
};

}  // namespace tokenizer
