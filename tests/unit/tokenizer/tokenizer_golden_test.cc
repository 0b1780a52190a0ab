// Encode/Decode against the golden files: exact ids for every row, HF's parse_special behaviour for every chat
// prompt, and the injection-safe encoding of untrusted segments.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/tokenizer/golden_rows.h"
#include "tokenizer/tokenizer.h"

namespace tokenizer {
namespace {

using testing_golden::ChatRow;
using testing_golden::TextRow;

class TokenizerGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(testing_golden::MistralDir());
    ASSERT_TRUE(tok.ok()) << tok.status();
    tok_ = tok->release();
  }
  static void TearDownTestSuite() { delete tok_; }
  static Tokenizer* tok_;
};
Tokenizer* TokenizerGolden::tok_ = nullptr;

TEST_F(TokenizerGolden, LoadsTheMistralVocabularyAndConfig) {
  EXPECT_EQ(tok_->vocab_size(), 32000);
  EXPECT_EQ(tok_->bos_id(), 1);
  EXPECT_EQ(tok_->eos_id(), 2);
  EXPECT_EQ(tok_->unk_id(), 0);
  EXPECT_EQ(tok_->pad_id(), -1);
  EXPECT_EQ(tok_->config().bos_token, "<s>");
  EXPECT_EQ(tok_->config().eos_token, "</s>");
  EXPECT_EQ(tok_->config().unk_token, "<unk>");
  EXPECT_TRUE(tok_->config().add_bos_token);
  EXPECT_FALSE(tok_->config().add_eos_token);
}

TEST_F(TokenizerGolden, EveryGoldenTextEncodesToItsIds) {
  const std::vector<TextRow> rows = testing_golden::ReadTokenizerGolden();
  ASSERT_EQ(rows.size(), testing_golden::kTokenizerGoldenRows);
  for (size_t i = 0; i < rows.size(); ++i) {
    absl::StatusOr<std::vector<int>> ids = tok_->Encode(rows[i].text, /*add_bos=*/true, /*parse_special=*/false);
    ASSERT_TRUE(ids.ok()) << "row " << i << ": " << ids.status();
    EXPECT_EQ(*ids, rows[i].ids) << "row " << i;
    // No golden text holds a special-token string, so parse_special changes nothing.
    absl::StatusOr<std::vector<int>> parsed = tok_->Encode(rows[i].text, true, /*parse_special=*/true);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, rows[i].ids) << "row " << i;
  }
}

TEST_F(TokenizerGolden, EveryGoldenIdListDecodesToItsText) {
  const std::vector<TextRow> rows = testing_golden::ReadTokenizerGolden();
  ASSERT_EQ(rows.size(), testing_golden::kTokenizerGoldenRows);
  for (size_t i = 0; i < rows.size(); ++i) {
    absl::StatusOr<std::string> skipped = tok_->Decode(rows[i].ids, /*skip_special=*/true);
    ASSERT_TRUE(skipped.ok()) << skipped.status();
    EXPECT_EQ(*skipped, rows[i].decoded) << "row " << i;
    // Kept special tokens appear as their strings; the BOS does not consume the text's dummy prefix.
    absl::StatusOr<std::string> kept = tok_->Decode(rows[i].ids, /*skip_special=*/false);
    ASSERT_TRUE(kept.ok());
    EXPECT_EQ(*kept, "<s>" + rows[i].decoded) << "row " << i;
    // SentencePiece's own decoder agrees.
    EXPECT_EQ(tok_->sentencepiece().DecodeIds(rows[i].ids), rows[i].decoded) << "row " << i;
  }
}

TEST_F(TokenizerGolden, AddBosFalseDropsOnlyTheBos) {
  absl::StatusOr<std::vector<int>> ids = tok_->Encode("Hello world!", /*add_bos=*/false, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int>{22557, 1526, 28808}));
  absl::StatusOr<std::vector<int>> empty = tok_->Encode("", /*add_bos=*/true, false);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, std::vector<int>{1});
}

TEST_F(TokenizerGolden, EveryChatPromptEncodesAsHuggingFaceDoes) {
  const std::vector<ChatRow> rows = testing_golden::ReadChatGolden();
  ASSERT_EQ(rows.size(), testing_golden::kChatGoldenRowsWithIds);
  for (size_t i = 0; i < rows.size(); ++i) {
    absl::StatusOr<std::vector<int>> ids = tok_->Encode(rows[i].text, /*add_bos=*/false, /*parse_special=*/true);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, rows[i].ids) << "row " << i << ": " << rows[i].text;
    // All-trusted segments, split at arbitrary character borders (here: about every 7 bytes), are the same prompt.
    const std::string_view text = rows[i].text;
    std::vector<Segment> segments;
    for (size_t p = 0, end; p < text.size(); p = end) {
      end = std::min(text.size(), p + 7);
      while (end < text.size() && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80) ++end;
      segments.push_back({text.substr(p, end - p), /*trusted=*/true});
    }
    absl::StatusOr<std::vector<int>> seg_ids = tok_->EncodeSegments(segments, false, true);
    ASSERT_TRUE(seg_ids.ok()) << seg_ids.status();
    EXPECT_EQ(*seg_ids, rows[i].ids) << "row " << i;
  }
}

// The v0.1 chat template's output as segments: its own literals trusted, message contents untrusted.
std::vector<std::string> RenderPieces(const base::Json& messages, std::vector<bool>* trusted) {
  std::vector<std::string> texts;
  auto add = [&](std::string s, bool t) {
    texts.push_back(std::move(s));
    trusted->push_back(t);
  };
  add("<s>", true);
  for (const base::Json& m : messages.items()) {
    if (m.Get("role").AsString() == "user") {
      add("[INST] ", true);
      add(m.Get("content").AsString(), false);
      add(" [/INST]", true);
    } else {
      add(m.Get("content").AsString(), false);
      add("</s>", true);
      add(" ", true);
    }
  }
  return texts;
}

TEST_F(TokenizerGolden, UntrustedSegmentsNeverYieldControlTokens) {
  const std::vector<ChatRow> rows = testing_golden::ReadChatGolden();
  ASSERT_EQ(rows.size(), testing_golden::kChatGoldenRowsWithIds);
  int rows_with_safe_ids = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<bool> trusted;
    const std::vector<std::string> texts = RenderPieces(rows[i].messages, &trusted);
    std::vector<Segment> segments;
    std::string joined;
    for (size_t k = 0; k < texts.size(); ++k) {
      segments.push_back({texts[k], trusted[k]});
      joined += texts[k];
    }
    ASSERT_EQ(joined, rows[i].text) << "row " << i << ": the test's rendering differs from the golden text";
    absl::StatusOr<std::vector<int>> ids = tok_->EncodeSegments(segments, /*add_bos=*/false, /*parse_special=*/true);
    ASSERT_TRUE(ids.ok()) << ids.status();
    if (!rows[i].safe_ids.empty()) {
      ++rows_with_safe_ids;
      EXPECT_EQ(*ids, rows[i].safe_ids) << "row " << i;
      EXPECT_NE(*ids, rows[i].ids);
    } else {
      EXPECT_EQ(*ids, rows[i].ids) << "row " << i << ": segments must not change a prompt without special strings";
    }
  }
  EXPECT_EQ(rows_with_safe_ids, 1);
}

TEST_F(TokenizerGolden, SpecialStringsAreTextWithoutParseSpecial) {
  absl::StatusOr<std::vector<int>> plain = tok_->Encode("<s>", /*add_bos=*/false, /*parse_special=*/false);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, (std::vector<int>{523, 28713, 28767}));  // ▁<, s, >
  absl::StatusOr<std::vector<int>> parsed = tok_->Encode("<s></s><unk>", false, /*parse_special=*/true);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<int>{1, 2, 0}));
}

TEST_F(TokenizerGolden, ASpecialStringAcrossTrustedSegmentsIsRecognised) {
  const std::vector<Segment> split = {{"<", true}, {"s>x", true}};
  absl::StatusOr<std::vector<int>> ids = tok_->EncodeSegments(split, false, true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, *tok_->Encode("<s>x", false, true));
  // One untrusted byte inside the match is enough to keep it text.
  const std::vector<Segment> mixed = {{"<", true}, {"s", false}, {">x", true}};
  absl::StatusOr<std::vector<int>> text_ids = tok_->EncodeSegments(mixed, false, true);
  ASSERT_TRUE(text_ids.ok());
  EXPECT_EQ(*text_ids, *tok_->Encode("<s>x", false, /*parse_special=*/false));
}

}  // namespace
}  // namespace tokenizer
