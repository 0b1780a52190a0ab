// Bad inputs: out-of-range ids, invalid UTF-8, and a broken model folder (missing or corrupt tokenizer.model,
// malformed or inconsistent tokenizer_config.json). Each error names the field or file and the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "tests/unit/tokenizer/golden_rows.h"
#include "tokenizer/tokenizer.h"

namespace tokenizer {
namespace {


// A scratch model folder: tokenizer.model is a symlink to the shared file (never a copy) unless replaced.
class ModelDir {
 public:
  explicit ModelDir(const std::string& name) : dir_(::testing::TempDir() + "/tok_" + name + std::to_string(getpid())) {
    std::string cmd = "rm -rf '" + dir_ + "' && mkdir -p '" + dir_ + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
  ~ModelDir() { (void)std::system(("rm -rf '" + dir_ + "'").c_str()); }
  void LinkRealModel() const {
    EXPECT_EQ(symlink((testing_golden::MistralDir() + "/tokenizer.model").c_str(), (dir_ + "/tokenizer.model").c_str()),
              0);
  }
  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

TEST(TokenizerErrors, MissingModelFileIsNotFoundNamingThePath) {
  ModelDir dir("missing");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(dir.path());
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(tok.status().message().find(dir.path() + "/tokenizer.model"), std::string::npos) << tok.status();
}

TEST(TokenizerErrors, CorruptModelFileIsRejectedNamingThePath) {
  ModelDir dir("corrupt");
  dir.Write("tokenizer.model", "this is not a protobuf \x01\x02\x03");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(dir.path());
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tok.status().message().find(dir.path() + "/tokenizer.model: not a SentencePiece model"),
            std::string::npos)
      << tok.status();
}

TEST(TokenizerErrors, MalformedTokenizerConfigIsRejectedNamingTheFile) {
  ModelDir dir("badjson");
  dir.LinkRealModel();
  dir.Write("tokenizer_config.json", "{\"add_bos_token\": true,");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(dir.path());
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(tok.status().message().find(dir.path() + "/tokenizer_config.json"), std::string::npos) << tok.status();
}

TEST(TokenizerErrors, WrongFieldTypesAndUnknownTokensNameTheField) {
  ModelDir dir("badfield");
  dir.LinkRealModel();
  dir.Write("tokenizer_config.json", "{\"add_bos_token\": \"yes\"}");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(dir.path());
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("field 'add_bos_token' must be true or false"), std::string::npos)
      << tok.status();

  dir.Write("tokenizer_config.json", "{\"eos_token\": {\"content\": \"<|end|>\"}}");
  tok = Tokenizer::Load(dir.path());
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("field 'eos_token' names \"<|end|>\", which is not in the vocabulary"),
            std::string::npos)
      << tok.status();
}

TEST(TokenizerErrors, WithoutSideFilesTheModelsOwnSpecialTokensApply) {
  ModelDir dir("bare");
  dir.LinkRealModel();
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(dir.path());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->config().bos_token, "<s>");
  EXPECT_EQ((*tok)->config().eos_token, "</s>");
  EXPECT_EQ((*tok)->config().unk_token, "<unk>");
  EXPECT_EQ((*tok)->bos_id(), 1);
  // AddedToken objects are accepted.
  dir.Write("special_tokens_map.json", "{\"bos_token\": {\"content\": \"<s>\", \"lstrip\": false}}");
  tok = Tokenizer::Load(dir.path());
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->bos_id(), 1);
}

class TokenizerBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::Load(testing_golden::MistralDir());
    ASSERT_TRUE(tok.ok()) << tok.status();
    tok_ = *std::move(tok);
  }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(TokenizerBadInput, NegativeIdIsRejected) {
  absl::StatusOr<std::string> text = tok_->Decode({22557, -1}, false);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(text.status().message(), "ids[1]: -1 is out of range [0, 32000)");
}

TEST_F(TokenizerBadInput, IdAtOrAboveVocabSizeIsRejected) {
  absl::StatusOr<std::string> text = tok_->Decode({32000}, true);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(text.status().message(), "ids[0]: 32000 is out of range [0, 32000)");
  EXPECT_TRUE(tok_->Decode({31999}, true).ok());
}

TEST_F(TokenizerBadInput, InvalidUtf8TextIsRejectedWithTheByteOffset) {
  absl::StatusOr<std::vector<int>> ids = tok_->Encode("abc\xff", true, false);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ids.status().message(), "invalid UTF-8 at byte 3");
  // A character cut in half at a segment border is invalid in that segment.
  const std::vector<Segment> segments = {{"ok", true}, {"\xc3", false}, {"\xa9", false}};
  ids = tok_->EncodeSegments(segments, true, true);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().message(), "segments[1].text: invalid UTF-8 at byte 0");
}

}  // namespace
}  // namespace tokenizer
