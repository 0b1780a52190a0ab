#include "services/generation/sampling_proto.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace generation {
namespace {

TEST(SamplingFromProto, AbsentFieldsTakeTheDocumentedDefaults) {
  auto p = SamplingFromProto(awqserve::v1::SamplingParams(), awqserve::v1::LogprobOptions(), "sampling", "logprobs",
                             32000);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->temperature, 1.0f);
  EXPECT_EQ(p->top_k, 0);
  EXPECT_EQ(p->top_p, 1.0f);
  EXPECT_EQ(p->min_p, 0.0f);
  EXPECT_EQ(p->repetition_penalty, 1.0f);
  EXPECT_EQ(p->presence_penalty, 0.0f);
  EXPECT_EQ(p->frequency_penalty, 0.0f);
  EXPECT_EQ(p->logprobs_top_n, -1);
}

TEST(SamplingFromProto, CopiesSetFieldsAndLogprobs) {
  awqserve::v1::SamplingParams s;
  s.set_temperature(0);
  s.set_top_k(40);
  s.set_top_p(0.9f);
  s.set_min_p(0.05f);
  s.set_repetition_penalty(1.1f);
  s.set_presence_penalty(-0.5f);
  s.set_frequency_penalty(0.5f);
  s.set_seed(1234567890123ull);
  awqserve::v1::LogprobOptions lp;
  lp.set_enabled(true);
  lp.set_top_n(5);
  auto p = SamplingFromProto(s, lp, "sampling", "logprobs", 32000);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->temperature, 0.0f);
  EXPECT_EQ(p->top_k, 40);
  EXPECT_EQ(p->top_p, 0.9f);
  EXPECT_EQ(p->min_p, 0.05f);
  EXPECT_EQ(p->repetition_penalty, 1.1f);
  EXPECT_EQ(p->presence_penalty, -0.5f);
  EXPECT_EQ(p->frequency_penalty, 0.5f);
  EXPECT_EQ(p->seed, 1234567890123ull);
  EXPECT_EQ(p->logprobs_top_n, 5);
  lp.set_top_n(0);
  EXPECT_EQ(SamplingFromProto(s, lp, "sampling", "logprobs", 32000)->logprobs_top_n, 0);
}

TEST(SamplingFromProto, UnsetSeedsDiffer) {
  awqserve::v1::SamplingParams s;
  auto a = SamplingFromProto(s, {}, "s", "l", 0);
  auto b = SamplingFromProto(s, {}, "s", "l", 0);
  EXPECT_NE(a->seed, b->seed);
}

TEST(SamplingFromProto, TopKIsBoundedByTheVocabularyAndNaNIsRejected) {
  awqserve::v1::SamplingParams s;
  s.set_top_k(512);
  EXPECT_TRUE(SamplingFromProto(s, {}, "sampling", "logprobs", 512).ok());
  s.set_top_k(513);
  auto bad = SamplingFromProto(s, {}, "sampling", "logprobs", 512);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "sampling.top_k: must be in [0, 512] (0 disables it), got 513");
  awqserve::v1::SamplingParams n;
  n.set_temperature(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(SamplingFromProto(n, {}, "sampling", "logprobs", 512).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace generation
