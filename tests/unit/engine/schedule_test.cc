// Scheduling: decodes before prefill chunks under one token budget, chunked prefill, preemption when the KV cache
// cannot hold the step, and the lone sequence that cannot grow.
#include "inference/engine/schedule.h"

#include "gtest/gtest.h"
#include "stage_test_util.h"

namespace inference {
namespace {

using testing::MakeSeq;

// A sequence admitted with `cached` of its known tokens in the cache.
SeqPtr Running(KvCache& kv, SeqId id, int32_t prompt_len, int32_t generated, int32_t cached) {
  SeqPtr s = MakeSeq(id, prompt_len, 100);
  for (int32_t g = 0; g < generated; ++g) s->tokens.push_back(9);
  absl::StatusOr<KvPlan> plan = kv.Plan({{id, 0, static_cast<int32_t>(s->tokens.size())}});
  EXPECT_TRUE(plan.ok());
  kv.Commit(*plan);
  s->num_cached = cached;
  s->state = s->num_uncached() == 1 && generated > 0 ? SeqState::kDecoding : SeqState::kPrefilling;
  return s;
}

TEST(Schedule, DecodesFirstThenPrefillChunksWithinTheBudget) {
  KvCache kv(100, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  running.push_back(Running(kv, 1, 10, 0, 0));  // prefilling, 10 to go
  running.push_back(Running(kv, 2, 5, 2, 6));   // decoding
  running.push_back(Running(kv, 3, 10, 0, 0));  // prefilling
  StepPlan plan = Schedule({8}, fcfs, running, waiting, kv, &counters);
  ASSERT_EQ(plan.items.size(), 2u);
  EXPECT_EQ(plan.items[0].seq->id, 2);
  EXPECT_EQ(plan.items[0].start, 6);
  EXPECT_EQ(plan.items[0].count, 1);
  EXPECT_TRUE(plan.items[0].sample);
  EXPECT_EQ(plan.items[1].seq->id, 1);
  EXPECT_EQ(plan.items[1].start, 0);
  EXPECT_EQ(plan.items[1].count, 7);
  EXPECT_FALSE(plan.items[1].sample);  // a middle chunk samples nothing
}

TEST(Schedule, TheLastChunkSamples) {
  KvCache kv(100, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  running.push_back(Running(kv, 1, 10, 0, 7));
  StepPlan plan = Schedule({8}, fcfs, running, waiting, kv, &counters);
  ASSERT_EQ(plan.items.size(), 1u);
  EXPECT_EQ(plan.items[0].start, 7);
  EXPECT_EQ(plan.items[0].count, 3);
  EXPECT_TRUE(plan.items[0].sample);
}

TEST(Schedule, PreemptsTheNewestWhenTheCacheCannotGrow) {
  KvCache kv(5, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  // Each holds 2 blocks for 8 tokens + 1 generated token at position 8: the decode needs a third block.
  running.push_back(Running(kv, 1, 7, 1, 7));
  running.push_back(Running(kv, 2, 7, 1, 7));
  ASSERT_EQ(kv.num_free_blocks(), 1);
  running[0]->tokens.push_back(9);
  running[0]->num_cached = 8;
  running[1]->tokens.push_back(9);
  running[1]->num_cached = 8;
  StepPlan plan = Schedule({8}, fcfs, running, waiting, kv, &counters);
  // Both decodes need a block each; one is free: the newest (id 2) is preempted, id 1 runs.
  ASSERT_EQ(plan.items.size(), 1u);
  EXPECT_EQ(plan.items[0].seq->id, 1);
  EXPECT_EQ(plan.kv.blocks_taken, 1);
  EXPECT_EQ(counters.preemptions_total, 1);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0]->id, 2);
  EXPECT_EQ(waiting[0]->state, SeqState::kWaiting);
  EXPECT_EQ(waiting[0]->num_cached, 0);
  EXPECT_EQ(waiting[0]->preemptions, 1);
  EXPECT_EQ(waiting[0]->tokens.size(), 9u);  // generated tokens are kept for the recompute
  EXPECT_FALSE(kv.Has(2));
  EXPECT_EQ(kv.num_free_blocks(), 3);
}

TEST(Schedule, ALoneSequenceThatCannotGrowFailsInsteadOfLooping) {
  KvCache kv(2, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  running.push_back(Running(kv, 1, 7, 1, 7));
  running[0]->tokens.push_back(9);
  running[0]->num_cached = 8;
  StepPlan plan = Schedule({8}, fcfs, running, waiting, kv, &counters);
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(running[0]->finish, FinishReason::kError);
  EXPECT_EQ(running[0]->error.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(counters.preemptions_total, 0);
}

}  // namespace
}  // namespace inference
