// Retire: finished and cancelled sequences give back every block and get exactly one on_finish.
#include "inference/engine/retire.h"

#include "gtest/gtest.h"
#include "stage_test_util.h"

namespace inference {
namespace {

using testing::MakeSeq;

struct Finishes {
  std::vector<FinishedRequest> done;
  RequestSink Sink() {
    RequestSink s;
    s.on_finish = [this](const FinishedRequest& f) { done.push_back(f); };
    return s;
  }
};

TEST(Retire, FinishedAndCancelledLeaveWithTheirBlocks) {
  KvCache kv(16, 4, 0);
  EngineCounters counters;
  Finishes fin;
  std::vector<SeqPtr> running;
  std::deque<SeqPtr> waiting;
  for (SeqId id = 1; id <= 3; ++id) {
    running.push_back(MakeSeq(id, 6, 8, fin.Sink()));
    kv.Commit(*kv.Plan({{id, 0, 6}}));
  }
  waiting.push_back(MakeSeq(4, 6, 8, fin.Sink()));
  running[0]->tokens.push_back(2);
  running[0]->stop_token = 2;
  running[0]->Finish(FinishReason::kStop);
  running[2]->cancel_requested = true;
  waiting[0]->cancel_requested = true;
  EXPECT_EQ(kv.num_free_blocks(), 10);

  const auto now = EngineClock::now();
  EXPECT_EQ(Retire(running, waiting, kv, now, &counters), 3);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0]->id, 2);
  EXPECT_TRUE(waiting.empty());
  EXPECT_EQ(kv.num_free_blocks(), 14);
  ASSERT_EQ(fin.done.size(), 3u);
  EXPECT_EQ(fin.done[0].reason, FinishReason::kStop);
  EXPECT_EQ(fin.done[0].stop_token, 2);
  EXPECT_EQ(fin.done[0].prompt_tokens, 6);
  EXPECT_EQ(fin.done[0].completion_tokens, 1);
  EXPECT_EQ(fin.done[0].timings.finished, now);
  EXPECT_EQ(fin.done[1].reason, FinishReason::kCancelled);
  EXPECT_EQ(fin.done[2].reason, FinishReason::kCancelled);
  EXPECT_EQ(counters.requests_finished_total[static_cast<int>(FinishReason::kStop)], 1);
  EXPECT_EQ(counters.requests_finished_total[static_cast<int>(FinishReason::kCancelled)], 2);

  // Nothing left to retire: no second on_finish.
  EXPECT_EQ(Retire(running, waiting, kv, now, &counters), 0);
  EXPECT_EQ(fin.done.size(), 3u);
}

TEST(Retire, AFinishedSequenceIgnoresALateCancel) {
  KvCache kv(16, 4, 0);
  EngineCounters counters;
  Finishes fin;
  std::vector<SeqPtr> running;
  std::deque<SeqPtr> waiting;
  running.push_back(MakeSeq(1, 3, 8, fin.Sink()));
  running[0]->Finish(FinishReason::kLength);
  running[0]->cancel_requested = true;
  Retire(running, waiting, kv, EngineClock::now(), &counters);
  ASSERT_EQ(fin.done.size(), 1u);
  EXPECT_EQ(fin.done[0].reason, FinishReason::kLength);
}

TEST(RetireAll, CancelsEverything) {
  KvCache kv(16, 4, 0);
  EngineCounters counters;
  Finishes fin;
  std::vector<SeqPtr> running;
  std::deque<SeqPtr> waiting;
  running.push_back(MakeSeq(1, 3, 8, fin.Sink()));
  kv.Commit(*kv.Plan({{1, 0, 3}}));
  waiting.push_back(MakeSeq(2, 3, 8, fin.Sink()));
  EXPECT_EQ(RetireAll(running, waiting, kv, EngineClock::now(), &counters), 2);
  EXPECT_EQ(kv.num_free_blocks(), 16);
  ASSERT_EQ(fin.done.size(), 2u);
  EXPECT_EQ(fin.done[0].reason, FinishReason::kCancelled);
  EXPECT_EQ(fin.done[1].reason, FinishReason::kCancelled);
}

}  // namespace
}  // namespace inference
