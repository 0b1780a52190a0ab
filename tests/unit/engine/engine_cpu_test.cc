// The Engine API over the real CPU backend and real checkpoints (shared/assets): reference greedy ids, batch
// invariance of greedy and seeded outputs, cancellation, a full cache, over-long prompts.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "base/file.h"
#include "gtest/gtest.h"
#include "inference/engine/engine_factory.h"

namespace inference {
namespace {

const std::string kAssets = std::string(AWQSERVE_SHARED_DIR) + "/assets/";

std::unique_ptr<Engine> MakeEngine(const std::string& model, EngineOptions opts = {}) {
  opts.threads = 2;
  absl::StatusOr<std::unique_ptr<Engine>> engine = CreateEngine(kAssets + model, opts);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

std::vector<int32_t> Ints(const base::Json& array) {
  std::vector<int32_t> v;
  for (const base::Json& x : array.items()) v.push_back(static_cast<int32_t>(x.AsInt()));
  return v;
}

struct Output {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
  std::vector<std::vector<std::pair<int32_t, float>>> top;
  FinishedRequest finished;
  bool done = false;
};

// Sinks writing into a map; the engine is driven synchronously, so no locking.
struct Outputs {
  std::map<int, Output> by_key;
  RequestSink Sink(int key) {
    RequestSink s;
    s.on_token = [this, key](const GeneratedToken& t) {
      Output& o = by_key[key];
      o.ids.push_back(t.id);
      o.logprobs.push_back(t.logprob);
      o.top.push_back(t.top);
    };
    s.on_finish = [this, key](const FinishedRequest& f) {
      by_key[key].finished = f;
      by_key[key].done = true;
    };
    return s;
  }
};

TEST(EngineCpu, TinyStoriesReferenceGreedyIdsAllPromptsInOneBatch) {
  absl::StatusOr<base::Json> ref = base::ReadJsonFile(kAssets + "tiny-stories-awq/reference.json");
  ASSERT_TRUE(ref.ok()) << ref.status();
  auto engine = MakeEngine("tiny-stories-awq");
  ASSERT_NE(engine, nullptr);
  const std::vector<int32_t> stop_ids = Ints(ref->Get("stop_ids"));
  constexpr int32_t kReferenceMaxTokens = 64;  // README: up to 64 tokens, stopping at id 1 or 2
  Outputs out;
  const base::Json::Array& cases = ref->Get("cases").items();
  ASSERT_EQ(cases.size(), 5u);
  for (size_t i = 0; i < cases.size(); ++i) {
    EngineRequest req;
    req.prompt = Ints(cases[i].Get("prompt_ids"));
    req.sampling.temperature = 0;
    req.stop_ids = stop_ids;
    req.max_tokens = kReferenceMaxTokens;
    ASSERT_TRUE(engine->Submit(req, out.Sink(static_cast<int>(i))).ok());
  }
  engine->RunUntilIdle();
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> expected = Ints(cases[i].Get("greedy_ids"));
    const Output& o = out.by_key[static_cast<int>(i)];
    EXPECT_EQ(o.ids, expected) << "case " << i << ": " << cases[i].Get("prompt").AsString();
    EXPECT_EQ(o.finished.reason,
              static_cast<int32_t>(expected.size()) < kReferenceMaxTokens ? FinishReason::kStop : FinishReason::kLength);
  }
  EXPECT_EQ(engine->Stats().kv_free_blocks, engine->Stats().kv_num_blocks);
}

TEST(EngineCpu, AwqTinyMistralReferenceGreedyIdsAcrossTheSlidingWindow) {
  absl::StatusOr<base::Json> ref = base::ReadJsonFile(kAssets + "awq-tiny-mistral/reference.json");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EngineOptions opts;
  opts.max_batch_tokens = 32;  // chunked prefill too
  opts.max_running = 16;
  auto engine = MakeEngine("awq-tiny-mistral", opts);
  ASSERT_NE(engine, nullptr);
  Outputs out;
  const base::Json::Array& prompts = ref->Get("prompts").items();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EngineRequest req;
    req.prompt = Ints(prompts[i].Get("ids"));
    req.sampling.temperature = 0;
    req.max_tokens = static_cast<int32_t>(prompts[i].Get("greedy_ids").size());
    ASSERT_TRUE(engine->Submit(req, out.Sink(static_cast<int>(i))).ok());
  }
  engine->RunUntilIdle();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(out.by_key[static_cast<int>(i)].ids, Ints(prompts[i].Get("greedy_ids"))) << "prompt " << i;
  }
}

// The first generated token's logprobs through the engine equal log_softmax of transformers' last-position logits
// (float32: 1e-4 relative of the logits, so 1e-3 absolute on log-probabilities of this spread is generous).
TEST(EngineCpu, AwqTinyMistralLogprobsMatchTransformersLogSoftmax) {
  absl::StatusOr<base::Json> ref = base::ReadJsonFile(kAssets + "awq-tiny-mistral/reference.json");
  ASSERT_TRUE(ref.ok()) << ref.status();
  auto engine = MakeEngine("awq-tiny-mistral");
  ASSERT_NE(engine, nullptr);
  constexpr int kTopN = 5;
  Outputs out;
  const base::Json::Array& prompts = ref->Get("prompts").items();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EngineRequest req;
    req.prompt = Ints(prompts[i].Get("ids"));
    req.sampling.temperature = 0;
    req.sampling.logprobs_top_n = kTopN;
    req.max_tokens = 1;
    ASSERT_TRUE(engine->Submit(req, out.Sink(static_cast<int>(i))).ok());
  }
  engine->RunUntilIdle();
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<double> logits;
    for (const base::Json& x : prompts[i].Get("last_logits").items()) logits.push_back(x.AsDouble());
    double max = logits[0];
    for (double l : logits) max = std::max(max, l);
    double sum = 0;
    for (double l : logits) sum += std::exp(l - max);
    const double log_z = max + std::log(sum);
    const Output& o = out.by_key[static_cast<int>(i)];
    ASSERT_EQ(o.ids.size(), 1u);
    EXPECT_EQ(o.ids[0], Ints(prompts[i].Get("greedy_ids"))[0]);
    EXPECT_NEAR(o.logprobs[0], logits[o.ids[0]] - log_z, 1e-3) << "prompt " << i;
    ASSERT_EQ(o.top[0].size(), static_cast<size_t>(kTopN));
    // transformers' top-5 positions of the last prompt token, most likely first.
    const base::Json& top5 = prompts[i].Get("top5_ids").items().back();
    for (int k = 0; k < kTopN; ++k) {
      EXPECT_EQ(o.top[0][k].first, top5.items()[k].AsInt()) << "prompt " << i << " rank " << k;
      EXPECT_NEAR(o.top[0][k].second, logits[o.top[0][k].first] - log_z, 1e-3) << "prompt " << i << " rank " << k;
    }
  }
}

// Deterministic pseudo-random prompts of mixed lengths.
std::vector<int32_t> Prompt(int key, int32_t vocab) {
  const int32_t len = 1 + (key * 37) % 90;
  std::vector<int32_t> p = {1};
  uint64_t x = 0x9E3779B97F4A7C15ull * (key + 1);
  for (int32_t i = 1; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p.push_back(static_cast<int32_t>(3 + x % static_cast<uint64_t>(vocab - 3)));
  }
  return p;
}

EngineRequest MixedRequest(int key, int32_t vocab, bool sampled) {
  EngineRequest req;
  req.prompt = Prompt(key, vocab);
  req.max_tokens = 6 + (key * 5) % 19;
  req.sampling.logprobs_top_n = 3;
  if (sampled) {
    req.sampling.temperature = 0.9f;
    req.sampling.top_k = 40;
    req.sampling.top_p = 0.95f;
    req.sampling.repetition_penalty = 1.1f;
    req.sampling.seed = 1000 + key;
  } else {
    req.sampling.temperature = 0;
  }
  return req;
}

constexpr int kBatch = 16;

// Each of 16 requests alone, then all 16 joining two per step into a running batch with chunked prefill: every
// request's tokens and logprobs must be identical.
void ExpectBatchInvariance(const std::string& model, int32_t vocab, bool sampled) {
  EngineOptions opts;
  opts.max_batch_tokens = 48;
  opts.max_running = 16;
  std::map<int, Output> alone;
  {
    auto engine = MakeEngine(model, opts);
    ASSERT_NE(engine, nullptr);
    for (int k = 0; k < kBatch; ++k) {
      Outputs out;
      ASSERT_TRUE(engine->Submit(MixedRequest(k, vocab, sampled), out.Sink(k)).ok());
      engine->RunUntilIdle();
      alone[k] = out.by_key[k];
    }
  }
  auto engine = MakeEngine(model, opts);
  ASSERT_NE(engine, nullptr);
  Outputs batched;
  int submitted = 0;
  int steps = 0;
  while (submitted < kBatch || engine->Stats().running + engine->Stats().waiting > 0) {
    for (int j = 0; j < 2 && submitted < kBatch; ++j, ++submitted) {
      ASSERT_TRUE(engine->Submit(MixedRequest(submitted, vocab, sampled), batched.Sink(submitted)).ok());
    }
    engine->Step();
    ASSERT_LT(++steps, 10000);
  }
  EXPECT_GT(engine->Stats().counters.steps_total, 0);
  for (int k = 0; k < kBatch; ++k) {
    const Output& a = alone[k];
    const Output& b = batched.by_key[k];
    ASSERT_TRUE(a.done && b.done) << "request " << k;
    EXPECT_FALSE(a.ids.empty());
    EXPECT_EQ(a.ids, b.ids) << "request " << k;
    EXPECT_EQ(a.logprobs, b.logprobs) << "request " << k;  // bit for bit
    EXPECT_EQ(a.top, b.top) << "request " << k;
    EXPECT_EQ(a.finished.reason, b.finished.reason) << "request " << k;
  }
}

// A KV pool far too small for 16 requests at once: running sequences are preempted and recomputed (prompt and
// generated tokens prefilled again), and still every request's tokens and logprobs equal its run alone.
TEST(EngineCpu, PreemptionByRecomputeKeepsOutputsIdentical) {
  EngineOptions opts;
  opts.max_batch_tokens = 48;
  opts.max_running = 16;
  opts.kv_block_size = 4;
  opts.kv_blocks = 40;
  std::map<int, Output> alone;
  {
    auto engine = MakeEngine("tiny-stories-awq", opts);
    ASSERT_NE(engine, nullptr);
    for (int k = 0; k < kBatch; ++k) {
      Outputs out;
      ASSERT_TRUE(engine->Submit(MixedRequest(k, 512, k % 2 == 1), out.Sink(k)).ok());
      engine->RunUntilIdle();
      alone[k] = out.by_key[k];
    }
    EXPECT_EQ(engine->Stats().counters.preemptions_total, 0);
  }
  auto engine = MakeEngine("tiny-stories-awq", opts);
  ASSERT_NE(engine, nullptr);
  Outputs batched;
  for (int k = 0; k < kBatch; ++k) {
    ASSERT_TRUE(engine->Submit(MixedRequest(k, 512, k % 2 == 1), batched.Sink(k)).ok());
  }
  engine->RunUntilIdle();
  EXPECT_GT(engine->Stats().counters.preemptions_total, 0);
  int preempted_requests = 0;
  for (int k = 0; k < kBatch; ++k) {
    const Output& b = batched.by_key[k];
    ASSERT_TRUE(b.done) << "request " << k;
    preempted_requests += b.finished.preemptions > 0;
    EXPECT_EQ(alone[k].ids, b.ids) << "request " << k;
    EXPECT_EQ(alone[k].logprobs, b.logprobs) << "request " << k;
  }
  EXPECT_GT(preempted_requests, 0);
  EXPECT_EQ(engine->Stats().kv_free_blocks, 40);
}

TEST(EngineCpu, BatchInvarianceGreedyTinyStories) { ExpectBatchInvariance("tiny-stories-awq", 512, false); }
TEST(EngineCpu, BatchInvarianceGreedyAwqTinyMistral) { ExpectBatchInvariance("awq-tiny-mistral", 32000, false); }
TEST(EngineCpu, BatchInvarianceSeededTinyStories) { ExpectBatchInvariance("tiny-stories-awq", 512, true); }
TEST(EngineCpu, BatchInvarianceSeededAwqTinyMistral) { ExpectBatchInvariance("awq-tiny-mistral", 32000, true); }

TEST(EngineCpu, SeededSamplingDependsOnTheSeed) {
  auto engine = MakeEngine("tiny-stories-awq");
  ASSERT_NE(engine, nullptr);
  Outputs out;
  EngineRequest a = MixedRequest(3, 512, true);
  a.max_tokens = 24;
  EngineRequest b = a;
  b.sampling.seed += 1;
  ASSERT_TRUE(engine->Submit(a, out.Sink(0)).ok());
  ASSERT_TRUE(engine->Submit(a, out.Sink(1)).ok());
  ASSERT_TRUE(engine->Submit(b, out.Sink(2)).ok());
  engine->RunUntilIdle();
  EXPECT_EQ(out.by_key[0].ids, out.by_key[1].ids);
  EXPECT_NE(out.by_key[0].ids, out.by_key[2].ids);
}

TEST(EngineCpu, CancelMidGenerationReturnsEveryBlock) {
  EngineOptions opts;
  opts.kv_blocks = 64;
  auto engine = MakeEngine("tiny-stories-awq", opts);
  ASSERT_NE(engine, nullptr);
  Outputs out;
  EngineRequest long_req = MixedRequest(7, 512, false);
  long_req.max_tokens = 200;
  absl::StatusOr<RequestHandle> victim = engine->Submit(long_req, out.Sink(0));
  ASSERT_TRUE(victim.ok());
  ASSERT_TRUE(engine->Submit(MixedRequest(2, 512, false), out.Sink(1)).ok());
  for (int i = 0; i < 6; ++i) engine->Step();
  EXPECT_LT(engine->Stats().kv_free_blocks, 64);
  const size_t tokens_before = out.by_key[0].ids.size();
  EXPECT_GT(tokens_before, 0u);
  engine->Cancel(*victim);
  engine->RunUntilIdle();
  EXPECT_EQ(out.by_key[0].finished.reason, FinishReason::kCancelled);
  EXPECT_EQ(out.by_key[0].ids.size(), tokens_before);
  EXPECT_EQ(out.by_key[1].finished.reason, FinishReason::kLength);
  EXPECT_EQ(engine->Stats().kv_free_blocks, 64);
  EXPECT_EQ(engine->Stats().running, 0);
}

TEST(EngineCpu, AFullCacheQueuesThenRejectsBeyondTheQueue) {
  EngineOptions opts;
  opts.kv_blocks = 8;  // 128 tokens: a 100-token prompt takes 7 blocks, a second one cannot be admitted
  opts.kv_block_size = 16;
  opts.max_queued_requests = 2;
  auto engine = MakeEngine("tiny-stories-awq", opts);
  ASSERT_NE(engine, nullptr);
  EngineRequest req;
  for (int k = 0; req.prompt.size() < 100; ++k) {
    for (int32_t id : Prompt(k, 512)) req.prompt.push_back(id);
  }
  req.prompt.resize(100);
  req.max_tokens = 20;
  req.sampling.temperature = 0;
  Outputs out;
  ASSERT_TRUE(engine->Submit(req, out.Sink(0)).ok());
  engine->Step();
  EXPECT_EQ(engine->Stats().running, 1);
  ASSERT_TRUE(engine->Submit(req, out.Sink(1)).ok());
  ASSERT_TRUE(engine->Submit(req, out.Sink(2)).ok());
  engine->Step();
  EXPECT_EQ(engine->Stats().running, 1);  // no blocks for a second one: it waits
  EXPECT_EQ(engine->Stats().waiting, 2);
  absl::StatusOr<RequestHandle> over = engine->Submit(req, out.Sink(3));
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  engine->RunUntilIdle();
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(out.by_key[k].finished.reason, FinishReason::kLength) << k;
    EXPECT_EQ(out.by_key[k].ids, out.by_key[0].ids) << k;
  }
  EXPECT_FALSE(out.by_key[3].done);
  EXPECT_EQ(engine->Stats().kv_free_blocks, 8);
}

TEST(EngineCpu, AnOverLongPromptIsRejectedWithTheLimit) {
  auto engine = MakeEngine("tiny-stories-awq");
  ASSERT_NE(engine, nullptr);
  EngineRequest req;
  req.prompt.assign(500, 5);
  req.max_tokens = 13;
  absl::StatusOr<RequestHandle> h = engine->Submit(req, {});
  ASSERT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("prompt (500 tokens) + max_tokens (13) = 513 exceeds the model's context of 512"),
            std::string::npos)
      << h.status();
  req.max_tokens = 12;
  EXPECT_TRUE(engine->Submit(req, {}).ok());
}

}  // namespace
}  // namespace inference
