// The tokenizer service's request handling without a server: limits with their messages, add_bos default,
// the token counters, and the wire-level diagnosis of requests protobuf refuses to parse.
#include <gtest/gtest.h>

#include "services/tokenizer/encode_request_utf8.h"
#include "services/tokenizer/tokenizer_service.h"
#include "tests/unit/tokenizer/golden_rows.h"

namespace tokenizer_service {
namespace {

namespace v1 = awqserve::v1;

class TokenizerServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::Tokenizer::Load(testing_golden::MistralDir());
    ASSERT_TRUE(tok.ok()) << tok.status();
    tok_ = tok->release();
  }
  static void TearDownTestSuite() { delete tok_; }
  void SetUp() override {
    TokenizerLimits limits;
    limits.max_text_bytes = 16;
    limits.max_inputs = 2;
    limits.max_decode_ids = 4;
    service_ = std::make_unique<TokenizerService>(tok_, limits, &registry_);
  }
  double Counter(const std::string& name) {
    for (const auto& family : registry_.Collect()) {
      if (family.name == name) return family.metric.at(0).counter.value;
    }
    return -1;
  }
  static tokenizer::Tokenizer* tok_;
  prometheus::Registry registry_;
  std::unique_ptr<TokenizerService> service_;
};
tokenizer::Tokenizer* TokenizerServiceTest::tok_ = nullptr;

TEST_F(TokenizerServiceTest, EncodeAddsBosUnlessToldNotTo) {
  v1::EncodeRequest req;
  req.add_inputs()->set_text("Hello world!");
  v1::EncodeResponse resp;
  ASSERT_TRUE(service_->DoEncode(req, &resp).ok());
  EXPECT_EQ(std::vector<int>(resp.results(0).ids().begin(), resp.results(0).ids().end()),
            (std::vector<int>{1, 22557, 1526, 28808}));
  EXPECT_EQ(Counter("awqserve_tokenizer_encoded_tokens_total"), 4);
  req.set_add_bos(false);
  resp.Clear();
  ASSERT_TRUE(service_->DoEncode(req, &resp).ok());
  EXPECT_EQ(resp.results(0).ids_size(), 3);
  EXPECT_EQ(Counter("awqserve_tokenizer_encoded_tokens_total"), 7);
}

TEST_F(TokenizerServiceTest, LimitsAreEnforcedWithTheirNames) {
  v1::EncodeResponse resp;
  v1::EncodeRequest req;
  for (int i = 0; i < 3; ++i) req.add_inputs()->set_text("x");
  EXPECT_EQ(service_->DoEncode(req, &resp).message(), "inputs: 3 inputs, the limit is 2");
  req.Clear();
  req.add_inputs()->set_text(std::string(17, 'a'));
  EXPECT_EQ(service_->DoEncode(req, &resp).message(),
            "inputs[0].text: 17 bytes, the limit is 16 (--max_text_bytes)");
  req.mutable_inputs(0)->mutable_text()->pop_back();
  EXPECT_TRUE(service_->DoEncode(req, &resp).ok());
  v1::DecodeRequest dec;
  for (int i = 0; i < 5; ++i) dec.add_ids(1);
  v1::DecodeResponse text;
  absl::Status s = service_->DoDecode(dec, &text);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "ids: 5 ids, the limit is 4");
}

TEST_F(TokenizerServiceTest, SegmentErrorsNameTheSegment) {
  v1::EncodeRequest req;
  v1::EncodeInput* input = req.add_inputs();
  input->add_segments()->set_text("ok");
  input->add_segments()->set_text("\xc3");  // set through the C++ API, which does not check UTF-8 on assignment
  v1::EncodeResponse resp;
  EXPECT_EQ(service_->DoEncode(req, &resp).message(), "inputs[0].segments[1].text: invalid UTF-8 at byte 0");
}

TEST(DiagnoseEncodeRequest, NamesTheFieldOrSaysTheDataIsMalformed) {
  EXPECT_EQ(DiagnoseEncodeRequest(std::string("\x0a\x05\x0a\x03", 4) + "ab\xff").message(),
            "inputs[0].text: invalid UTF-8 at byte 2");
  // The second input is the bad one.
  const std::string good("\x0a\x03\x0a\x01z", 5);
  EXPECT_EQ(DiagnoseEncodeRequest(good + std::string("\x0a\x03\x0a\x01\xff", 5)).message(),
            "inputs[1].text: invalid UTF-8 at byte 0");
  EXPECT_EQ(DiagnoseEncodeRequest(std::string("\x0a\x05\x0a", 3)).message(), "request: malformed protobuf wire data");
}

}  // namespace
}  // namespace tokenizer_service
