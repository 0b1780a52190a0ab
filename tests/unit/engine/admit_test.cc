// Admission: FCFS order, KV blocks for every known token plus one spare block per running sequence, the batch
// limit, no overtaking, arrival order in the running batch.
#include "inference/engine/admit.h"

#include "gtest/gtest.h"
#include "stage_test_util.h"

namespace inference {
namespace {

using testing::MakeSeq;

std::vector<SeqId> Ids(const std::vector<SeqPtr>& v) {
  std::vector<SeqId> ids;
  for (const SeqPtr& s : v) ids.push_back(s->id);
  return ids;
}

TEST(Admit, AdmitsInOrderWhileBlocksAndHeadroomLast) {
  KvCache kv(10, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  waiting.push_back(MakeSeq(1, 8));   // 2 blocks, headroom 0: 2 <= 10
  waiting.push_back(MakeSeq(2, 12));  // 3 blocks, headroom 1: 4 <= 8
  waiting.push_back(MakeSeq(3, 17));  // 5 blocks, headroom 2: 7 > 5
  const auto now = EngineClock::now();
  EXPECT_EQ(Admit({64}, fcfs, waiting, running, kv, now, &counters), 2);
  EXPECT_EQ(Ids(running), (std::vector<SeqId>{1, 2}));
  EXPECT_EQ(running[0]->state, SeqState::kPrefilling);
  EXPECT_EQ(running[0]->timings.admitted, now);
  EXPECT_EQ(kv.LiveBlocks(1), 2);
  EXPECT_EQ(kv.LiveBlocks(2), 3);
  EXPECT_EQ(kv.num_free_blocks(), 5);
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0]->state, SeqState::kWaiting);
  EXPECT_FALSE(kv.Has(3));
  EXPECT_EQ(counters.requests_admitted_total, 2);
}

TEST(Admit, NoOvertakingWhenTheHeadDoesNotFit) {
  KvCache kv(4, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  waiting.push_back(MakeSeq(1, 20));  // 5 blocks of 4: never fits now
  waiting.push_back(MakeSeq(2, 2));
  EXPECT_EQ(Admit({64}, fcfs, waiting, running, kv, EngineClock::now(), &counters), 0);
  EXPECT_EQ(waiting.size(), 2u);
  EXPECT_EQ(kv.num_free_blocks(), 4);
}

TEST(Admit, RespectsTheBatchLimit) {
  KvCache kv(100, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  for (SeqId id = 1; id <= 5; ++id) waiting.push_back(MakeSeq(id, 3));
  EXPECT_EQ(Admit({3}, fcfs, waiting, running, kv, EngineClock::now(), &counters), 3);
  EXPECT_EQ(waiting.size(), 2u);
  EXPECT_EQ(waiting.front()->id, 4);
}

TEST(Admit, ReadmittedSequenceKeepsArrivalOrderAndFirstAdmissionTime) {
  KvCache kv(100, 4, 0);
  FcfsPolicy fcfs;
  EngineCounters counters;
  std::deque<SeqPtr> waiting;
  std::vector<SeqPtr> running;
  running.push_back(MakeSeq(5, 3));
  SeqPtr old = MakeSeq(2, 3);
  old->ever_admitted = true;
  const auto first_admission = EngineClock::now() - std::chrono::seconds(1);
  old->timings.admitted = first_admission;
  old->tokens.push_back(7);  // one generated token: recompute all 4 known tokens
  waiting.push_back(std::move(old));
  EXPECT_EQ(Admit({64}, fcfs, waiting, running, kv, EngineClock::now(), &counters), 1);
  EXPECT_EQ(Ids(running), (std::vector<SeqId>{2, 5}));
  EXPECT_EQ(running[0]->timings.admitted, first_admission);
  EXPECT_EQ(running[0]->num_uncached(), 4);
  EXPECT_EQ(counters.requests_admitted_total, 0);
}

}  // namespace
}  // namespace inference
