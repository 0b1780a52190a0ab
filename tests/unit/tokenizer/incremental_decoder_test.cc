// The streaming detokenizer: deltas concatenate to Decode, never end inside a UTF-8 character, and byte-fallback
// runs decode exactly as SentencePiece's own decoder does.
#include "tokenizer/incremental_decoder.h"

#include <gtest/gtest.h>

#include <random>

#include "base/utf8.h"
#include "tests/unit/tokenizer/golden_rows.h"
#include "tokenizer/tokenizer.h"

namespace tokenizer {
namespace {

class IncrementalDecoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(testing_golden::MistralDir());
    ASSERT_TRUE(tok.ok()) << tok.status();
    tok_ = tok->release();
  }
  static void TearDownTestSuite() { delete tok_; }

  // Feeds `ids` one at a time and checks every delta is whole UTF-8; returns the concatenation.
  static std::string StreamOneByOne(const std::vector<int>& ids, bool skip_special, int row) {
    IncrementalDecoder dec = tok_->NewDecoder(skip_special);
    std::string all;
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string delta;
      EXPECT_TRUE(dec.Feed({ids[i]}, &delta).ok());
      EXPECT_TRUE(base::IsValidUtf8(delta)) << "row " << row << " id " << i << ": delta ends inside a character";
      all += delta;
    }
    std::string tail;
    dec.Flush(&tail);
    EXPECT_TRUE(base::IsValidUtf8(tail));
    return all + tail;
  }
  static Tokenizer* tok_;
};
Tokenizer* IncrementalDecoderTest::tok_ = nullptr;

constexpr int kByteBase = 3;  // <0x00> is id 3 in this vocabulary
int ByteId(uint8_t b) { return kByteBase + b; }

TEST_F(IncrementalDecoderTest, EveryGoldenTextStreamsToItsDecode) {
  const std::vector<testing_golden::TextRow> rows = testing_golden::ReadTokenizerGolden();
  ASSERT_EQ(rows.size(), testing_golden::kTokenizerGoldenRows);
  int rows_with_byte_pieces = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    for (bool skip : {true, false}) {
      const std::string whole = *tok_->Decode(rows[i].ids, skip);
      EXPECT_EQ(StreamOneByOne(rows[i].ids, skip, static_cast<int>(i)), whole) << "row " << i;
    }
    for (int id : rows[i].ids) {
      if (tok_->vocab().kinds[id] == PieceKind::kByte) {
        ++rows_with_byte_pieces;
        break;
      }
    }
  }
  EXPECT_GT(rows_with_byte_pieces, 10) << "the golden texts should exercise byte fallback";
}

TEST_F(IncrementalDecoderTest, HoldsAnEmojiUntilItsLastByte) {
  IncrementalDecoder dec = tok_->NewDecoder(true);
  const uint8_t wave[] = {0xF0, 0x9F, 0x8C, 0x8A};  // U+1F30A
  std::string delta;
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(dec.Feed({ByteId(wave[k])}, &delta).ok());
    EXPECT_EQ(delta, "") << "after byte " << k;
  }
  ASSERT_TRUE(dec.Feed({ByteId(wave[3])}, &delta).ok());
  EXPECT_EQ(delta, "\xF0\x9F\x8C\x8A");
}

TEST_F(IncrementalDecoderTest, AnUnfinishedCharacterFlushesAsReplacementCharacters) {
  IncrementalDecoder dec = tok_->NewDecoder(true);
  std::string delta;
  ASSERT_TRUE(dec.Feed({ByteId(0xF0), ByteId(0x9F)}, &delta).ok());
  EXPECT_EQ(delta, "");
  dec.Flush(&delta);
  EXPECT_EQ(delta, "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(IncrementalDecoderTest, MatchesSentencePieceOnRandomSequences) {
  // Random mixes of byte pieces (half of the draws, to make partial and invalid UTF-8 common), normal pieces and
  // control tokens, compared with SentencePiece's decoder. <unk> is left out: SentencePiece shows it as " \u2047 ".
  std::mt19937 rng(20240417);
  std::uniform_int_distribution<int> byte(0, 255), normal(259, tok_->vocab_size() - 1), pick(0, 9);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<int> ids(1 + trial % 12);
    for (int& id : ids) {
      const int p = pick(rng);
      id = p < 5 ? ByteId(byte(rng)) : p < 9 ? normal(rng) : 1 + p % 2;
    }
    const std::string expected = tok_->sentencepiece().DecodeIds(ids);
    EXPECT_EQ(*tok_->Decode(ids, /*skip_special=*/true), expected) << "trial " << trial;
    EXPECT_EQ(StreamOneByOne(ids, true, trial), expected) << "trial " << trial;
  }
}

TEST_F(IncrementalDecoderTest, LeadingSpaceRulesFollowSentencePiece) {
  // "▁" then "▁Hello": only the first dummy prefix is dropped; a control token does not count as text.
  EXPECT_EQ(*tok_->Decode({28705, 22557}, true), " Hello");
  EXPECT_EQ(*tok_->Decode({1, 22557}, true), "Hello");
  EXPECT_EQ(*tok_->Decode({1, 22557}, false), "<s>Hello");
  EXPECT_EQ(*tok_->Decode({22557, 2}, false), "Hello</s>");
  EXPECT_EQ(*tok_->Decode({0, 22557}, false), "<unk>Hello");
  EXPECT_EQ(*tok_->Decode({0, 22557}, true), "Hello");
  // A byte piece is text: the following piece keeps its space.
  EXPECT_EQ(*tok_->Decode({ByteId(' '), 22557}, true), "  Hello");
}

TEST_F(IncrementalDecoderTest, ABadIdIsRejectedAndLeavesTheStreamIntact) {
  IncrementalDecoder dec = tok_->NewDecoder(true);
  std::string delta;
  ASSERT_TRUE(dec.Feed({ByteId(0xF0)}, &delta).ok());
  absl::Status s = dec.Feed({ByteId(0x9F), 32000}, &delta);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "ids[1]: 32000 is out of range [0, 32000)");
  EXPECT_EQ(dec.ids_seen(), 1);
  ASSERT_TRUE(dec.Feed({ByteId(0x9F), ByteId(0x8C), ByteId(0x8A)}, &delta).ok());
  EXPECT_EQ(delta, "\xF0\x9F\x8C\x8A");
}

// TokenTexts: each id's text is exactly what Decode adds when the id follows a plain text piece, for every id of
// the vocabulary (the same rules as the stream decoder: spaces, bytes, U+FFFD, visible control pieces).
TEST_F(IncrementalDecoderTest, TokenTextsAreWhatEachIdAddsAfterText) {
  constexpr int kThe = 272;  // "▁the"
  ASSERT_EQ(tok_->vocab().pieces[kThe], "\u2581the");
  std::vector<int> all(tok_->vocab_size());
  for (int id = 0; id < tok_->vocab_size(); ++id) all[id] = id;
  const absl::StatusOr<std::vector<std::string>> texts = tok_->TokenTexts(all);
  ASSERT_TRUE(texts.ok()) << texts.status();
  ASSERT_EQ(texts->size(), all.size());
  const std::string prefix = *tok_->Decode({kThe}, false);
  int mismatches = 0;
  for (int id = 0; id < tok_->vocab_size(); ++id) {
    const std::string whole = *tok_->Decode({kThe, id}, false);
    ASSERT_EQ(whole.substr(0, prefix.size()), prefix) << "id " << id;
    if ((*texts)[id] != whole.substr(prefix.size())) ++mismatches;
    EXPECT_TRUE(base::IsValidUtf8((*texts)[id])) << "id " << id;
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(*tok_->TokenTexts({1, 22557, 1526, 28808, 2, 0}),
            (std::vector<std::string>{"<s>", " Hello", " world", "!", "</s>", "<unk>"}));
  EXPECT_EQ(*tok_->TokenTexts({ByteId('\n'), ByteId(0xF0)}), (std::vector<std::string>{"\n", "\xEF\xBF\xBD"}));
}

TEST_F(IncrementalDecoderTest, TokenTextsRejectsAnIdOutOfRange) {
  const absl::StatusOr<std::vector<std::string>> texts = tok_->TokenTexts({5, 32000});
  EXPECT_EQ(texts.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(texts.status().message(), "ids[1]: 32000 is out of range [0, 32000)");
  EXPECT_EQ(tok_->TokenTexts({-1}).status().message(), "ids[0]: -1 is out of range [0, 32000)");
}

}  // namespace
}  // namespace tokenizer
