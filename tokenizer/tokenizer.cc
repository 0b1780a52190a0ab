#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "base/utf8.h"

namespace tokenizer {
namespace {

int PieceId(const Vocabulary& vocab, const std::string& piece) {
  for (int id = 0; id < vocab.size(); ++id) {
    if (vocab.pieces[id] == piece) return id;
  }
  return -1;
}

absl::Status CheckUtf8(std::string_view text, const std::string& field) {
  const size_t bad = base::FirstInvalidUtf8(text);
  if (bad == std::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, field.empty() ? "" : ": ", "invalid UTF-8 at byte ", bad));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Load(const std::string& model_dir) {
  const std::string model_path = base::JoinPath(model_dir, kModelFile);
  ASSIGN_OR_RETURN(std::string bytes, base::ReadFile(model_path));
  std::unique_ptr<Tokenizer> tok(new Tokenizer);
  std::string error;
  tok->sp_ = SentencePieceModel::Load(bytes, &error);
  if (!tok->sp_) return absl::InvalidArgumentError(absl::StrCat(model_path, ": ", error));
  ASSIGN_OR_RETURN(tok->config_, LoadTokenizerConfig(model_dir, tok->vocab()));
  const Vocabulary& vocab = tok->vocab();
  tok->bos_id_ = PieceId(vocab, tok->config_.bos_token);
  tok->eos_id_ = PieceId(vocab, tok->config_.eos_token);
  tok->unk_id_ = PieceId(vocab, tok->config_.unk_token);
  for (const std::string* s : {&tok->config_.bos_token, &tok->config_.eos_token, &tok->config_.unk_token}) {
    if (!s->empty()) tok->specials_.push_back({*s, PieceId(vocab, *s)});
  }
  std::stable_sort(tok->specials_.begin(), tok->specials_.end(),
                   [](const SpecialToken& a, const SpecialToken& b) { return a.text.size() > b.text.size(); });
  tok->model_dir_ = model_dir;
  return tok;
}

absl::Status Tokenizer::EncodeText(std::string_view text, std::vector<int>* ids) const {
  if (text.empty()) return absl::OkStatus();
  std::string error;
  if (!sp_->EncodeIds(text, ids, &error)) return absl::InternalError(absl::StrCat("sentencepiece: ", error));
  return absl::OkStatus();
}

template <typename TrustedFn>
absl::StatusOr<std::vector<int>> Tokenizer::EncodeImpl(std::string_view text, TrustedFn trusted, bool add_bos,
                                                       bool parse_special) const {
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos) ids.push_back(bos_id_);
  if (!parse_special || specials_.empty()) {
    RETURN_IF_ERROR(EncodeText(text, &ids));
    return ids;
  }
  size_t start = 0;  // beginning of the text not yet encoded
  for (size_t pos = 0; pos < text.size(); ++pos) {
    for (const SpecialToken& special : specials_) {
      if (text.compare(pos, special.text.size(), special.text) != 0 || !trusted(pos, special.text.size())) continue;
      RETURN_IF_ERROR(EncodeText(text.substr(start, pos - start), &ids));
      ids.push_back(special.id);
      pos += special.text.size() - 1;
      start = pos + 1;
      break;
    }
  }
  RETURN_IF_ERROR(EncodeText(text.substr(start), &ids));
  return ids;
}

absl::StatusOr<std::vector<int>> Tokenizer::Encode(std::string_view text, bool add_bos, bool parse_special) const {
  RETURN_IF_ERROR(CheckUtf8(text, ""));
  return EncodeImpl(
      text, [](size_t, size_t) { return true; }, add_bos, parse_special);
}

absl::StatusOr<std::vector<int>> Tokenizer::EncodeSegments(absl::Span<const Segment> segments, bool add_bos,
                                                           bool parse_special) const {
  std::string text;
  // untrusted_before[i]: untrusted bytes in text[0, i) — a match [p, p+n) is trusted iff the count does not grow.
  std::vector<uint32_t> untrusted_before;
  size_t total = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    RETURN_IF_ERROR(CheckUtf8(segments[i].text, absl::StrCat("segments[", i, "].text")));
    total += segments[i].text.size();
  }
  text.reserve(total);
  if (parse_special) untrusted_before.reserve(total + 1);
  if (parse_special) untrusted_before.push_back(0);
  for (const Segment& seg : segments) {
    text.append(seg.text);
    if (!parse_special) continue;
    for (size_t k = 0; k < seg.text.size(); ++k) {
      untrusted_before.push_back(untrusted_before.back() + (seg.trusted ? 0 : 1));
    }
  }
  return EncodeImpl(
      text,
      [&untrusted_before](size_t pos, size_t n) { return untrusted_before[pos + n] == untrusted_before[pos]; },
      add_bos, parse_special);
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const int> ids, bool skip_special) const {
  IncrementalDecoder decoder = NewDecoder(skip_special);
  std::string text;
  RETURN_IF_ERROR(decoder.Feed(ids, &text));
  decoder.Flush(&text);
  return text;
}

absl::StatusOr<std::vector<std::string>> Tokenizer::TokenTexts(absl::Span<const int> ids) const {
  RETURN_IF_ERROR(CheckIds(ids, vocab_size()));
  std::vector<std::string> texts(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    IncrementalDecoder decoder = NewDecoder(/*skip_special=*/false);
    decoder.ContinueMidSequence();
    RETURN_IF_ERROR(decoder.Feed({ids[i]}, &texts[i]));
    decoder.Flush(&texts[i]);
  }
  return texts;
}

}  // namespace tokenizer
