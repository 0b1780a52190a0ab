// The Engine API over the token-pool backend (bookkeeping only; engine_cpu_test.cc runs real models): up-front
// rejections, the bounded wait queue, cancellation, stats, and the engine thread.
#include "inference/engine/engine.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"
#include "stage_test_util.h"
#include "token_pool_backend.h"

namespace inference {
namespace {

using testing::GenerateReference;
using testing::MakeRequest;
using testing::TokenPoolBackend;

constexpr int32_t kVocab = 1000;

std::unique_ptr<Engine> MakeEngine(int32_t num_blocks, int32_t max_queued = 256, int32_t context = 512) {
  EngineConfig config;
  config.vocab_size = kVocab;
  config.context_length = context;
  config.max_queued_requests = max_queued;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(config, std::make_unique<TokenPoolBackend>(num_blocks, 4, 0, kVocab));
  EXPECT_TRUE(engine.ok()) << engine.status();
  return *std::move(engine);
}

struct Collector {
  std::mutex mu;
  std::map<RequestHandle, std::vector<int32_t>> tokens;
  std::map<RequestHandle, FinishedRequest> finished;
  RequestSink Sink(RequestHandle* id) {
    RequestSink s;
    s.on_token = [this, id](const GeneratedToken& t) {
      std::lock_guard<std::mutex> l(mu);
      tokens[*id].push_back(t.id);
    };
    s.on_finish = [this, id](const FinishedRequest& f) {
      std::lock_guard<std::mutex> l(mu);
      finished[*id] = f;
    };
    return s;
  }
};

TEST(Engine, RejectsAnOverLongRequestWithBothNumbers) {
  auto engine = MakeEngine(1024, 256, /*context=*/100);
  absl::StatusOr<RequestHandle> h = engine->Submit(MakeRequest(60, 41), {});
  ASSERT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("prompt (60 tokens) + max_tokens (41) = 101 exceeds the model's context of 100"),
            std::string::npos)
      << h.status();
  EXPECT_TRUE(engine->Submit(MakeRequest(60, 40), {}).ok());
  EXPECT_EQ(engine->Stats().counters.requests_rejected_total, 1);
}

TEST(Engine, RejectsBadInputNamingTheField) {
  auto engine = MakeEngine(1024);
  struct Case {
    EngineRequest request;
    const char* expect;
  };
  std::vector<Case> cases;
  cases.push_back({MakeRequest(0, 5), "prompt_ids is empty"});
  EngineRequest bad_id = MakeRequest(3, 5);
  bad_id.prompt[1] = kVocab;
  cases.push_back({bad_id, "prompt_ids[1] = 1000 is out of range [0, 1000)"});
  cases.push_back({MakeRequest(3, 0), "max_tokens = 0 is out of range [1, 509]"});
  EngineRequest bad_stop = MakeRequest(3, 5);
  bad_stop.stop_ids = {2, -1};
  cases.push_back({bad_stop, "stop_token_ids[1] = -1 is out of range [0, 1000)"});
  EngineRequest bad_sampling = MakeRequest(3, 5);
  bad_sampling.sampling.top_p = 0;
  cases.push_back({bad_sampling, "sampling.top_p = 0 is out of range (0, 1]"});
  for (const Case& c : cases) {
    absl::StatusOr<RequestHandle> h = engine->Submit(c.request, {});
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << c.expect;
    EXPECT_NE(h.status().message().find(c.expect), std::string::npos) << h.status();
  }
}

TEST(Engine, RejectsARequestTheWholeCacheCannotHold) {
  auto engine = MakeEngine(/*num_blocks=*/8);  // 32 tokens
  absl::StatusOr<RequestHandle> h = engine->Submit(MakeRequest(20, 13), {});
  ASSERT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("needs 9 KV blocks of 4 tokens but the cache has 8 (32 tokens)"),
            std::string::npos)
      << h.status();
  EXPECT_TRUE(engine->Submit(MakeRequest(20, 12), {}).ok());
}

TEST(Engine, AFullCacheQueuesThenRejectsBeyondTheQueueBound) {
  // 8 blocks of 4: one 20 + 12 token request fills the cache; the queue holds 2 more.
  auto engine = MakeEngine(8, /*max_queued=*/2);
  Collector c;
  RequestHandle ids[4] = {};
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<RequestHandle> h = engine->Submit(MakeRequest(20, 12), c.Sink(&ids[i]));
    if (i < 2) {
      ASSERT_TRUE(h.ok()) << h.status();
      ids[i] = *h;
    } else {
      EXPECT_EQ(h.status().code(), absl::StatusCode::kResourceExhausted);  // 2 in the inbox already
    }
  }
  engine->Step();  // admits the first; the second waits for blocks
  EngineStats s = engine->Stats();
  EXPECT_EQ(s.running, 1);
  EXPECT_EQ(s.waiting, 1);
  EXPECT_GT(s.kv_usage, 0.0);
  absl::StatusOr<RequestHandle> third = engine->Submit(MakeRequest(20, 12), c.Sink(&ids[2]));
  ASSERT_TRUE(third.ok()) << third.status();
  ids[2] = *third;
  absl::StatusOr<RequestHandle> over = engine->Submit(MakeRequest(20, 12), c.Sink(&ids[3]));
  ASSERT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("2 requests waiting (max_queued_requests = 2)"), std::string::npos)
      << over.status();
  engine->RunUntilIdle();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.finished[ids[i]].reason, FinishReason::kLength);
    EXPECT_EQ(c.tokens[ids[i]], GenerateReference(MakeRequest(20, 12).prompt, 12, 0, kVocab));
  }
  s = engine->Stats();
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.kv_free_blocks, 8);
  EXPECT_EQ(s.counters.requests_rejected_total, 2);
  EXPECT_EQ(s.counters.requests_finished_total[static_cast<int>(FinishReason::kLength)], 3);
}

TEST(Engine, CancelMidGenerationReturnsEveryBlock) {
  auto engine = MakeEngine(64);
  Collector c;
  RequestHandle a = 0, b = 0;
  a = *engine->Submit(MakeRequest(10, 100), c.Sink(&a));
  b = *engine->Submit(MakeRequest(7, 5), c.Sink(&b));
  for (int i = 0; i < 4; ++i) engine->Step();
  EXPECT_EQ(c.tokens[a].size(), 4u);
  EXPECT_LT(engine->Stats().kv_free_blocks, 64);
  engine->Cancel(a);
  engine->Cancel(a);       // twice: harmless
  engine->Cancel(12345);   // unknown: ignored
  engine->RunUntilIdle();
  EXPECT_EQ(c.finished[a].reason, FinishReason::kCancelled);
  EXPECT_EQ(c.finished[a].completion_tokens, 4);
  EXPECT_EQ(c.tokens[a], GenerateReference(MakeRequest(10, 100).prompt, 4, 0, kVocab));
  EXPECT_EQ(c.finished[b].reason, FinishReason::kLength);
  EXPECT_EQ(engine->Stats().kv_free_blocks, 64);
  EXPECT_EQ(engine->Stats().counters.requests_finished_total[static_cast<int>(FinishReason::kCancelled)], 1);
}

TEST(Engine, CancelWhileQueuedFinishesCancelledWithoutRunning) {
  auto engine = MakeEngine(64);
  Collector c;
  RequestHandle a = 0;
  a = *engine->Submit(MakeRequest(10, 5), c.Sink(&a));
  engine->Cancel(a);
  engine->RunUntilIdle();
  EXPECT_EQ(c.finished[a].reason, FinishReason::kCancelled);
  EXPECT_TRUE(c.tokens[a].empty());
  EXPECT_EQ(engine->Stats().counters.steps_total, 0);
}

TEST(Engine, TimingsAreOrdered) {
  auto engine = MakeEngine(64);
  Collector c;
  RequestHandle a = 0;
  a = *engine->Submit(MakeRequest(10, 3), c.Sink(&a));
  engine->RunUntilIdle();
  const RequestTimings& t = c.finished[a].timings;
  EXPECT_LE(t.arrival, t.admitted);
  EXPECT_LE(t.admitted, t.first_token);
  EXPECT_LE(t.first_token, t.finished);
  EXPECT_EQ(c.finished[a].prompt_tokens, 10);
  EXPECT_EQ(c.finished[a].completion_tokens, 3);
}

TEST(Engine, TheEngineThreadServesConcurrentSubmitters) {
  auto engine = MakeEngine(128);
  engine->Start();
  Collector c;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::vector<RequestHandle> ids(kThreads * kPerThread);
  std::condition_variable all_done;
  int finished = 0;  // guarded by c.mu
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const int i = t * kPerThread + k;
        RequestSink sink = c.Sink(&ids[i]);
        auto finish = sink.on_finish;
        sink.on_finish = [finish, &c, &finished, &all_done](const FinishedRequest& f) {
          finish(f);
          std::lock_guard<std::mutex> l(c.mu);
          ++finished;
          all_done.notify_one();
        };
        std::lock_guard<std::mutex> l(c.mu);  // the handle is written before the engine's callbacks read it
        ids[i] = *engine->Submit(MakeRequest(5 + i, 6 + i % 3), sink);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  {
    std::unique_lock<std::mutex> l(c.mu);
    all_done.wait(l, [&] { return finished == kThreads * kPerThread; });
  }
  engine->Stop();
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    EXPECT_EQ(c.tokens[ids[i]], GenerateReference(MakeRequest(5 + i, 6 + i % 3).prompt, 6 + i % 3, 0, kVocab));
  }
  EXPECT_EQ(engine->Stats().kv_free_blocks, 128);
}

TEST(Engine, StopCancelsWhatIsLeftAndRefusesNewWork) {
  auto engine = MakeEngine(64);
  Collector c;
  RequestHandle a = 0;
  a = *engine->Submit(MakeRequest(10, 50), c.Sink(&a));
  engine->Step();
  engine->Stop();
  EXPECT_EQ(c.finished[a].reason, FinishReason::kCancelled);
  EXPECT_EQ(engine->Stats().kv_free_blocks, 64);
  EXPECT_EQ(engine->Submit(MakeRequest(10, 5), {}).status().code(), absl::StatusCode::kUnavailable);
}

TEST(Engine, CreateRejectsAnUnusableConfig) {
  EngineConfig config;
  config.vocab_size = kVocab;
  config.context_length = 0;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(config, std::make_unique<TokenPoolBackend>(8, 4, 0, kVocab));
  ASSERT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(engine.status().message().find("context_length = 0 must be at least 1"), std::string::npos);

  config.context_length = 128;
  config.max_running = 64;
  config.max_batch_tokens = 32;
  engine = Engine::Create(config, std::make_unique<TokenPoolBackend>(8, 4, 0, kVocab));
  ASSERT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(engine.status().message().find("max_batch_tokens = 32 must be at least max_running = 64"),
            std::string::npos)
      << engine.status();
}

}  // namespace
}  // namespace inference
