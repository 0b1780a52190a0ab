// Streaming detokenizer: feed token ids as they are generated, get text deltas back. The concatenation of all
// deltas (Feed... then Flush) equals Tokenizer::Decode of all the ids, and every delta is valid UTF-8 that never
// ends inside a character: bytes of byte-fallback pieces (<0xF0><0x9F>...) are held until their character is
// complete, or until Flush / a non-byte piece settles them (an unfinishable sequence decodes as U+FFFD per byte,
// exactly as SentencePiece does).
//
// Decoding rules (SentencePiece's, plus visible special tokens):
//   - a normal piece is its text with U+2581 as a space; the first text piece of the sequence loses one leading
//     U+2581 (the dummy prefix the encoder added); control pieces do not count as text for that rule;
//   - byte pieces are raw bytes (a run of them is read as UTF-8, each invalid byte becoming U+FFFD);
//   - control and unknown pieces (<s>, </s>, <unk>) appear as their piece string, or not at all with skip_special.
//
// Ownership: holds a pointer to the Vocabulary, which must outlive it (the Tokenizer owns it).
// Thread-safety: one decoder per stream; not safe for concurrent use; independent decoders are independent.
//
//   IncrementalDecoder dec = tok.NewDecoder(/*skip_special=*/true);
//   std::string delta;
//   RETURN_IF_ERROR(dec.Feed({243, 162}, &delta));   // delta == "" (2 of 4 bytes of an emoji)
//   RETURN_IF_ERROR(dec.Feed({143, 141}, &delta));   // delta == "🌊"
//   dec.Flush(&delta);
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tokenizer/sentencepiece_model.h"

namespace tokenizer {

class IncrementalDecoder {
 public:
  IncrementalDecoder(const Vocabulary* vocab, bool skip_special) : vocab_(vocab), skip_special_(skip_special) {}

  // Appends the text that became final with `ids` to *delta. All ids are checked first: INVALID_ARGUMENT naming the
  // first id outside [0, vocab size) and the decoder is unchanged.
  [[nodiscard]] absl::Status Feed(absl::Span<const int> ids, std::string* delta);

  // Ends the sequence: appends whatever is held back (an unfinished byte sequence, as U+FFFD per byte). The
  // decoder may be fed again afterwards; it then continues the same sequence.
  void Flush(std::string* delta);

  // Decodes what follows as the continuation of text already seen: no dummy-prefix space is dropped.
  void ContinueMidSequence() { at_start_ = false; }

  // Ids fed so far.
  int64_t ids_seen() const { return ids_seen_; }

 private:
  void FeedOne(int id, std::string* out);
  // Moves the settled prefix of pending_bytes_ to *out; with `final`, everything.
  void DrainBytes(bool final, std::string* out);

  const Vocabulary* vocab_;
  bool skip_special_;
  bool at_start_ = true;       // no text piece seen yet: the next one loses its dummy-prefix space
  std::string pending_bytes_;  // bytes of byte pieces not yet settled into characters
  int64_t ids_seen_ = 0;
};

// The check Feed and Decode apply: INVALID_ARGUMENT "ids[i]: N is out of range [0, V)" for the first bad id.
[[nodiscard]] absl::Status CheckIds(absl::Span<const int> ids, int vocab_size);

}  // namespace tokenizer
