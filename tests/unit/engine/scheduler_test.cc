// The scheduler's stages together over the token-pool backend (token_pool_backend.h): every sequence's output must
// equal what its own token list determines, however sequences join, chunk, share blocks, leave the window or get
// preempted; and every block comes back.
#include "inference/engine/scheduler.h"

#include <map>

#include "gtest/gtest.h"
#include "stage_test_util.h"
#include "token_pool_backend.h"

namespace inference {
namespace {

using testing::GenerateReference;
using testing::MakeRequest;
using testing::TokenPoolBackend;

constexpr int32_t kVocab = 1000;

struct Outputs {
  std::map<SeqId, std::vector<int32_t>> tokens;
  std::map<SeqId, FinishedRequest> finished;
  RequestSink Sink(SeqId id) {
    RequestSink s;
    s.on_token = [this, id](const GeneratedToken& t) { tokens[id].push_back(t.id); };
    s.on_finish = [this, id](const FinishedRequest& f) { finished[id] = f; };
    return s;
  }
};

struct Run {
  int32_t num_blocks;
  int32_t block_size;
  int32_t window;
  int32_t max_batch_tokens;
  int32_t max_running;
};

// 16 requests of mixed lengths, one joining every other step; returns the preemption count.
int64_t RunMixedBatch(const Run& run, Outputs* out) {
  TokenPoolBackend backend(run.num_blocks, run.block_size, run.window, kVocab);
  SchedulerConfig config;
  config.admit.max_running = run.max_running;
  config.schedule.max_batch_tokens = run.max_batch_tokens;
  config.context_length = 4096;
  config.sliding_window = run.window;
  Scheduler sched(config, &backend, std::make_unique<FcfsPolicy>());
  constexpr int kRequests = 16;
  int step = 0;
  for (SeqId id = 1; id <= kRequests || sched.HasWork(); ++step) {
    if (id <= kRequests && step % 2 == 0) {
      EngineRequest req = MakeRequest(3 + 7 * (id % 5) + id, 10 + 3 * (id % 4));
      sched.Add(std::make_unique<Sequence>(id, req, out->Sink(id), EngineClock::now()));
      ++id;
    }
    sched.Step();
    EXPECT_LT(step, 10000);
    if (step >= 10000) break;
  }
  EXPECT_EQ(sched.kv().num_free_blocks(), run.num_blocks);
  for (SeqId id = 1; id <= kRequests; ++id) {
    const EngineRequest req = MakeRequest(3 + 7 * (id % 5) + id, 10 + 3 * (id % 4));
    EXPECT_EQ(out->tokens[id], GenerateReference(req.prompt, req.max_tokens, run.window, kVocab)) << "request " << id;
    EXPECT_EQ(out->finished[id].reason, FinishReason::kLength) << "request " << id;
  }
  return sched.counters().preemptions_total;
}

TEST(Scheduler, ContinuousBatchingGivesEveryRequestItsOwnOutput) {
  Outputs out;
  EXPECT_EQ(RunMixedBatch({256, 4, 0, 64, 64}, &out), 0);
}

TEST(Scheduler, ChunkedPrefillUnderATinyBudget) {
  Outputs out;
  RunMixedBatch({256, 4, 0, 5, 64}, &out);
}

TEST(Scheduler, SlidingWindowRecyclesBlocksWithoutChangingOutputs) {
  Outputs out;
  RunMixedBatch({256, 4, 6, 16, 64}, &out);
}

TEST(Scheduler, PreemptionByRecomputeContinuesExactly) {
  Outputs out;
  // 24 blocks of 4 tokens: a handful of sequences at a time, so decodes run out of blocks.
  EXPECT_GT(RunMixedBatch({17, 4, 24, 32, 64}, &out), 0);
  int32_t preempted = 0;
  for (const auto& [id, f] : out.finished) preempted += f.preemptions;
  EXPECT_GT(preempted, 0);
}

// 17 blocks is the largest request alone (66 tokens); a window of 24 leaves decodes short of blocks now and then.
TEST(Scheduler, PreemptionUnderASlidingWindow) {
  Outputs out;
  EXPECT_GT(RunMixedBatch({17, 4, 24, 32, 64}, &out), 0);
}

TEST(Scheduler, ABackendFailureFailsTheStepsSequencesAndFreesThem) {
  TokenPoolBackend backend(64, 4, 0, kVocab);
  SchedulerConfig config;
  config.context_length = 4096;
  Scheduler sched(config, &backend, std::make_unique<FcfsPolicy>());
  Outputs out;
  sched.Add(std::make_unique<Sequence>(1, MakeRequest(5, 10), out.Sink(1), EngineClock::now()));
  sched.Step();
  backend.fail_next = true;
  sched.Step();
  EXPECT_FALSE(sched.HasWork());
  EXPECT_EQ(out.finished[1].reason, FinishReason::kError);
  EXPECT_NE(out.finished[1].error.message().find("injected"), std::string::npos);
  EXPECT_EQ(sched.kv().num_free_blocks(), 64);
  EXPECT_EQ(sched.counters().requests_finished_total[static_cast<int>(FinishReason::kError)], 1);
}

TEST(Scheduler, CancelRetiresAtTheNextStep) {
  TokenPoolBackend backend(64, 4, 0, kVocab);
  SchedulerConfig config;
  config.context_length = 4096;
  Scheduler sched(config, &backend, std::make_unique<FcfsPolicy>());
  Outputs out;
  sched.Add(std::make_unique<Sequence>(1, MakeRequest(5, 100), out.Sink(1), EngineClock::now()));
  sched.Step();
  sched.Step();
  EXPECT_EQ(out.tokens[1].size(), 2u);
  EXPECT_TRUE(sched.Cancel(1));
  EXPECT_FALSE(sched.Cancel(99));
  sched.Step();
  EXPECT_EQ(out.tokens[1].size(), 2u);
  EXPECT_EQ(out.finished[1].reason, FinishReason::kCancelled);
  EXPECT_EQ(sched.kv().num_free_blocks(), 64);
  EXPECT_FALSE(sched.HasWork());
}

}  // namespace
}  // namespace inference
