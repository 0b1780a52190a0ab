#include "services/gateway/request_validation.h"

#include <string>

#include "gtest/gtest.h"

namespace gateway {
namespace {

using awqserve::v1::ChatRequest;
using awqserve::v1::CompleteRequest;

ChatRequest OneUserMessage() {
  ChatRequest r;
  auto* m = r.add_messages();
  m->set_role("user");
  m->set_content("Hello!");
  return r;
}

void ExpectInvalid(const absl::Status& s, const std::string& fragment) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(fragment), std::string::npos) << "'" << s.message() << "' lacks '" << fragment << "'";
}

TEST(RequestValidation, AcceptsAPlainChatAndCompletion) {
  EXPECT_TRUE(ValidateChatRequest(OneUserMessage(), Limits{}).ok());
  CompleteRequest c;
  c.set_prompt("Once upon a time");
  EXPECT_TRUE(ValidateCompleteRequest(c, Limits{}).ok());
  c.set_prompt("");  // BOS alone is a prompt
  EXPECT_TRUE(ValidateCompleteRequest(c, Limits{}).ok());
}

TEST(RequestValidation, Messages) {
  ExpectInvalid(ValidateChatRequest(ChatRequest(), Limits{}), "messages: at least one message");
  ChatRequest r = OneUserMessage();
  r.mutable_messages(0)->clear_role();
  ExpectInvalid(ValidateChatRequest(r, Limits{}), "messages[0].role: required");
  r = OneUserMessage();
  r.mutable_messages(0)->clear_content();
  ExpectInvalid(ValidateChatRequest(r, Limits{}), "messages[0].content: required");
  r = OneUserMessage();
  r.add_messages()->set_role("assistant");
  r.mutable_messages(1)->set_content(std::string("ok \xC3", 4));
  ExpectInvalid(ValidateChatRequest(r, Limits{}), "messages[1].content: not valid UTF-8 (bad byte at offset 3)");
  r = OneUserMessage();
  for (int i = 0; i < kMaxMessages; ++i) *r.add_messages() = r.messages(0);
  ExpectInvalid(ValidateChatRequest(r, Limits{}), "messages: at most 4096 messages, got 4097");
}

TEST(RequestValidation, SamplingRanges) {
  struct Case {
    void (*set)(awqserve::v1::SamplingParams*);
    std::string message;
  };
  const Case cases[] = {
      {[](auto* s) { s->set_temperature(-0.5f); }, "options.sampling.temperature: must be in [0, 100], got -0.5"},
      {[](auto* s) { s->set_temperature(101); }, "options.sampling.temperature: must be in [0, 100], got 101"},
      {[](auto* s) { s->set_top_p(0); }, "options.sampling.top_p: must be in (0, 1], got 0"},
      {[](auto* s) { s->set_top_p(1.5f); }, "options.sampling.top_p: must be in (0, 1], got 1.5"},
      {[](auto* s) { s->set_top_k(-1); }, "options.sampling.top_k: must be in [0, vocab size], got -1"},
      {[](auto* s) { s->set_min_p(-0.25f); }, "options.sampling.min_p: must be in [0, 1], got -0.25"},
      {[](auto* s) { s->set_min_p(2); }, "options.sampling.min_p: must be in [0, 1], got 2"},
      {[](auto* s) { s->set_repetition_penalty(0); }, "options.sampling.repetition_penalty: must be in (0, 2], got 0"},
      {[](auto* s) { s->set_repetition_penalty(3); }, "options.sampling.repetition_penalty: must be in (0, 2], got 3"},
      {[](auto* s) { s->set_presence_penalty(-2.5f); }, "options.sampling.presence_penalty: must be in [-2, 2], got -2.5"},
      {[](auto* s) { s->set_frequency_penalty(2.5f); }, "options.sampling.frequency_penalty: must be in [-2, 2], got 2.5"},
  };
  for (const Case& c : cases) {
    ChatRequest r = OneUserMessage();
    c.set(r.mutable_options()->mutable_sampling());
    ExpectInvalid(ValidateChatRequest(r, Limits{}), c.message);
  }
  ChatRequest edge = OneUserMessage();
  auto* s = edge.mutable_options()->mutable_sampling();
  s->set_temperature(0);
  s->set_top_p(1);
  s->set_min_p(1);
  s->set_repetition_penalty(2);
  s->set_presence_penalty(-2);
  s->set_frequency_penalty(2);
  EXPECT_TRUE(ValidateChatRequest(edge, Limits{}).ok());
}

TEST(RequestValidation, MaxTokensStopsAndLogprobs) {
  Limits limits;
  limits.max_tokens_cap = 100;
  ChatRequest r = OneUserMessage();
  r.mutable_options()->set_max_tokens(0);
  ExpectInvalid(ValidateChatRequest(r, limits), "options.max_tokens: must be in [1, 100], got 0");
  r.mutable_options()->set_max_tokens(101);
  ExpectInvalid(ValidateChatRequest(r, limits), "options.max_tokens: must be in [1, 100], got 101");
  r.mutable_options()->set_max_tokens(100);
  EXPECT_TRUE(ValidateChatRequest(r, limits).ok());

  r = OneUserMessage();
  for (int i = 0; i < 17; ++i) r.mutable_options()->add_stop("s" + std::to_string(i));
  ExpectInvalid(ValidateChatRequest(r, limits), "options.stop: at most 16 stop strings, got 17");
  r = OneUserMessage();
  r.mutable_options()->add_stop("ok");
  r.mutable_options()->add_stop(std::string(257, 'x'));
  ExpectInvalid(ValidateChatRequest(r, limits), "options.stop[1]: must be 1 to 256 bytes long, got 257");
  r.mutable_options()->set_stop(1, "");
  ExpectInvalid(ValidateChatRequest(r, limits), "options.stop[1]: must be 1 to 256 bytes long, got 0");
  r.mutable_options()->set_stop(1, "\xFF");
  ExpectInvalid(ValidateChatRequest(r, limits), "options.stop[1]: not valid UTF-8");
  r.mutable_options()->set_stop(1, std::string(256, 'x'));
  EXPECT_TRUE(ValidateChatRequest(r, limits).ok());

  r = OneUserMessage();
  for (int i = 0; i < 65; ++i) r.mutable_options()->add_stop_token_ids(i);
  ExpectInvalid(ValidateChatRequest(r, limits), "options.stop_token_ids: at most 64 ids, got 65");
  r = OneUserMessage();
  r.mutable_options()->add_stop_token_ids(-3);
  ExpectInvalid(ValidateChatRequest(r, limits), "options.stop_token_ids[0]: must be >= 0, got -3");

  r = OneUserMessage();
  r.mutable_options()->mutable_logprobs()->set_top_n(21);
  r.mutable_options()->mutable_logprobs()->set_enabled(true);
  ExpectInvalid(ValidateChatRequest(r, limits), "options.logprobs.top_n: must be in [0, 20], got 21");
  r.mutable_options()->mutable_logprobs()->set_enabled(false);
  r.mutable_options()->mutable_logprobs()->set_top_n(3);
  ExpectInvalid(ValidateChatRequest(r, limits), "options.logprobs.top_n: needs options.logprobs.enabled");
}

TEST(RequestValidation, CompletePrompt) {
  CompleteRequest c;
  c.set_prompt(std::string("abc\xED\xA0\x80", 6));  // an encoded surrogate
  ExpectInvalid(ValidateCompleteRequest(c, Limits{}), "prompt: not valid UTF-8 (bad byte at offset 3)");
  c.set_prompt("");
  c.set_add_bos(false);
  ExpectInvalid(ValidateCompleteRequest(c, Limits{}), "prompt: empty, and add_bos is false");
}

TEST(ResolveMaxTokens, DefaultsFitTheContextAndExplicitValuesMustFit) {
  Limits limits;  // default 256, cap 4096
  awqserve::v1::GenerationOptions o;
  EXPECT_EQ(*ResolveMaxTokens(o, 10, 512, limits), 256u);
  EXPECT_EQ(*ResolveMaxTokens(o, 400, 512, limits), 112u);
  EXPECT_EQ(*ResolveMaxTokens(o, 511, 512, limits), 1u);
  ExpectInvalid(ResolveMaxTokens(o, 512, 512, limits).status(),
                "prompt: 512 tokens leave no room in the model's context length of 512 tokens");
  o.set_max_tokens(100);
  EXPECT_EQ(*ResolveMaxTokens(o, 412, 512, limits), 100u);
  ExpectInvalid(ResolveMaxTokens(o, 413, 512, limits).status(),
                "options.max_tokens: the prompt's 413 tokens + max_tokens 100 exceed the model's context length of 512");
  limits.max_tokens_cap = 50;
  awqserve::v1::GenerationOptions unset;
  EXPECT_EQ(*ResolveMaxTokens(unset, 10, 512, limits), 50u);
}

}  // namespace
}  // namespace gateway
