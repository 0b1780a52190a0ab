#include "tokenizer/incremental_decoder.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/utf8.h"

namespace tokenizer {
namespace {

constexpr std::string_view kSpaceSymbol = "\xe2\x96\x81";      // U+2581, SentencePiece's visible space
constexpr std::string_view kReplacementChar = "\xef\xbf\xbd";  // U+FFFD, for a byte that is no UTF-8

void AppendPieceText(std::string_view piece, bool strip_dummy_prefix, std::string* out) {
  if (strip_dummy_prefix && piece.substr(0, kSpaceSymbol.size()) == kSpaceSymbol) {
    piece.remove_prefix(kSpaceSymbol.size());
  }
  size_t pos;
  while ((pos = piece.find(kSpaceSymbol)) != std::string_view::npos) {
    out->append(piece.substr(0, pos));
    out->push_back(' ');
    piece.remove_prefix(pos + kSpaceSymbol.size());
  }
  out->append(piece);
}

}  // namespace

absl::Status CheckIds(absl::Span<const int> ids, int vocab_size) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("ids[", i, "]: ", ids[i], " is out of range [0, ", vocab_size, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status IncrementalDecoder::Feed(absl::Span<const int> ids, std::string* delta) {
  if (absl::Status s = CheckIds(ids, vocab_->size()); !s.ok()) return s;
  for (int id : ids) FeedOne(id, delta);
  ids_seen_ += static_cast<int64_t>(ids.size());
  return absl::OkStatus();
}

void IncrementalDecoder::Flush(std::string* delta) { DrainBytes(/*final=*/true, delta); }

void IncrementalDecoder::FeedOne(int id, std::string* out) {
  const PieceKind kind = vocab_->kinds[id];
  if (kind == PieceKind::kByte) {
    pending_bytes_.push_back(static_cast<char>(vocab_->bytes[id]));
    at_start_ = false;
    DrainBytes(/*final=*/false, out);
    return;
  }
  DrainBytes(/*final=*/true, out);
  if (kind == PieceKind::kControl || kind == PieceKind::kUnknown) {
    if (!skip_special_) out->append(vocab_->pieces[id]);
    return;
  }
  AppendPieceText(vocab_->pieces[id], at_start_ && vocab_->add_dummy_prefix, out);
  at_start_ = false;
}

void IncrementalDecoder::DrainBytes(bool final, std::string* out) {
  std::string_view pending = pending_bytes_;
  size_t i = 0;
  while (i < pending.size()) {
    std::string_view rest = pending.substr(i);
    const size_t bad = base::FirstInvalidUtf8(rest);
    if (bad == std::string_view::npos) {
      out->append(rest);
      i = pending.size();
      break;
    }
    out->append(rest.substr(0, bad));
    i += bad;
    // A sequence that is valid so far but reaches the end may still be completed by the next byte piece.
    if (!final && base::CompleteUtf8Prefix(pending.substr(i)) == 0) break;
    out->append(kReplacementChar);
    ++i;
  }
  pending_bytes_.erase(0, i);
}

}  // namespace tokenizer
