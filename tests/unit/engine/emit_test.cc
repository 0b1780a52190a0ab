// Emit: cache positions advance, sampled tokens reach the sink (stop ids do not), and the finish reasons stop,
// length (max_tokens, context full); FailStep fails a step's sequences.
#include "inference/engine/emit.h"

#include "gtest/gtest.h"
#include "stage_test_util.h"

namespace inference {
namespace {

using testing::MakeRequest;

struct Recorder {
  std::vector<GeneratedToken> tokens;
  RequestSink Sink() {
    RequestSink s;
    s.on_token = [this](const GeneratedToken& t) { tokens.push_back(t); };
    return s;
  }
};

StepResult Sampled(std::vector<int32_t> ids) {
  StepResult r;
  for (int32_t id : ids) {
    SampledToken t;
    t.id = id;
    t.logprob = -1.25f;
    if (id >= 0) t.top = {{id, -1.25f}, {0, -2.0f}};
    r.tokens.push_back(t);
  }
  return r;
}

TEST(Emit, PrefillChunkAdvancesOnlyTheCache) {
  Recorder rec;
  Sequence seq(1, MakeRequest(10, 4), rec.Sink(), EngineClock::now());
  seq.state = SeqState::kPrefilling;
  StepPlan plan;
  plan.items = {{&seq, 0, 6, false}};
  EngineCounters counters;
  Emit(plan, Sampled({-1}), 100, EngineClock::now(), &counters);
  EXPECT_EQ(seq.num_cached, 6);
  EXPECT_EQ(seq.state, SeqState::kPrefilling);
  EXPECT_TRUE(rec.tokens.empty());
  EXPECT_EQ(counters.prefill_tokens_total, 6);
  EXPECT_EQ(counters.generation_tokens_total, 0);
}

TEST(Emit, SampledTokensReachTheSinkWithLogprobs) {
  Recorder rec;
  EngineRequest req = MakeRequest(3, 4);
  req.sampling.logprobs_top_n = 2;
  Sequence seq(1, req, rec.Sink(), EngineClock::now());
  seq.state = SeqState::kPrefilling;
  StepPlan plan;
  plan.items = {{&seq, 0, 3, true}};
  EngineCounters counters;
  const auto now = EngineClock::now();
  Emit(plan, Sampled({42}), 100, now, &counters);
  EXPECT_EQ(seq.state, SeqState::kDecoding);
  EXPECT_EQ(seq.num_cached, 3);
  EXPECT_EQ(seq.tokens.back(), 42);
  EXPECT_EQ(seq.timings.first_token, now);
  ASSERT_EQ(rec.tokens.size(), 1u);
  EXPECT_EQ(rec.tokens[0].id, 42);
  EXPECT_EQ(rec.tokens[0].index, 0);
  EXPECT_TRUE(rec.tokens[0].has_logprobs);
  EXPECT_FLOAT_EQ(rec.tokens[0].logprob, -1.25f);
  EXPECT_EQ(rec.tokens[0].top.size(), 2u);
  EXPECT_FALSE(seq.finished());
  // The next decode.
  plan.items = {{&seq, 3, 1, true}};
  Emit(plan, Sampled({43}), 100, EngineClock::now(), &counters);
  EXPECT_EQ(rec.tokens[1].index, 1);
  EXPECT_EQ(seq.timings.first_token, now);
  EXPECT_EQ(counters.generation_tokens_total, 2);
  EXPECT_EQ(counters.prefill_tokens_total, 3);
}

TEST(Emit, FirstTokenTimeSurvivesAPreemptionDuringPrefill) {
  Recorder rec;
  Sequence seq(1, MakeRequest(3, 4), rec.Sink(), EngineClock::now());
  seq.preemptions = 1;  // preempted before its first token: the first token still gets its time
  StepPlan plan;
  plan.items = {{&seq, 0, 3, true}};
  EngineCounters counters;
  const auto now = EngineClock::now();
  Emit(plan, Sampled({42}), 100, now, &counters);
  EXPECT_EQ(seq.timings.first_token, now);
  // A recompute after a later preemption does not move it.
  plan.items = {{&seq, 0, 4, true}};
  Emit(plan, Sampled({43}), 100, now + std::chrono::seconds(1), &counters);
  EXPECT_EQ(seq.timings.first_token, now);
}

TEST(Emit, AStopIdFinishesWithoutBeingEmitted) {
  Recorder rec;
  Sequence seq(1, MakeRequest(3, 4, {2, 7}), rec.Sink(), EngineClock::now());
  StepPlan plan;
  plan.items = {{&seq, 0, 3, true}};
  EngineCounters counters;
  Emit(plan, Sampled({7}), 100, EngineClock::now(), &counters);
  EXPECT_TRUE(rec.tokens.empty());
  EXPECT_EQ(seq.finish, FinishReason::kStop);
  EXPECT_EQ(seq.stop_token, 7);
  EXPECT_EQ(seq.num_generated(), 1);  // counted as a completion token
}

TEST(Emit, MaxTokensFinishesWithLength) {
  Recorder rec;
  Sequence seq(1, MakeRequest(3, 2), rec.Sink(), EngineClock::now());
  StepPlan plan;
  EngineCounters counters;
  plan.items = {{&seq, 0, 3, true}};
  Emit(plan, Sampled({10}), 100, EngineClock::now(), &counters);
  EXPECT_FALSE(seq.finished());
  plan.items = {{&seq, 3, 1, true}};
  Emit(plan, Sampled({11}), 100, EngineClock::now(), &counters);
  EXPECT_EQ(seq.finish, FinishReason::kLength);
  EXPECT_EQ(rec.tokens.size(), 2u);
}

TEST(Emit, AFullContextFinishesWithLength) {
  Recorder rec;
  Sequence seq(1, MakeRequest(3, 50), rec.Sink(), EngineClock::now());
  StepPlan plan;
  EngineCounters counters;
  plan.items = {{&seq, 0, 3, true}};
  Emit(plan, Sampled({10}), /*context_length=*/4, EngineClock::now(), &counters);
  EXPECT_EQ(seq.finish, FinishReason::kLength);
}

TEST(FailStep, FailsEverySequenceOfTheStepWithTheStatus) {
  Sequence a(1, MakeRequest(3, 5), {}, EngineClock::now());
  Sequence b(2, MakeRequest(3, 5), {}, EngineClock::now());
  StepPlan plan;
  plan.items = {{&a, 0, 3, true}, {&b, 0, 2, false}};
  FailStep(plan, absl::InternalError("boom"));
  EXPECT_EQ(a.finish, FinishReason::kError);
  EXPECT_EQ(b.finish, FinishReason::kError);
  EXPECT_EQ(b.error.message(), "boom");
}

}  // namespace
}  // namespace inference
