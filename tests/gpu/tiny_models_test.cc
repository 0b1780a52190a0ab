// The CUDA backend end to end on the shared tiny checkpoints: awq-tiny-mistral's logits against transformers'
// reference.json (teacher-forced, every position, prompts past the sliding window), greedy ids where the reference
// margin exceeds fp16 error, one prefill equals step-by-step decode and chunked prefill, a batch of 32 gives the
// same greedy tokens as each request alone, tiny-stories-awq's greedy stories, and bad batches rejected.
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>

#include "base/file.h"
#include "base/json.h"
#include "inference/cpu/cpu_backend.h"
#include "inference/cuda/cuda_backend.h"
#include "inference/engine/sampler.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/gpu/tiny_backend.h"

namespace inference::cuda {
namespace {

std::vector<int32_t> Ints(const base::Json& j) {
  std::vector<int32_t> v;
  for (const base::Json& x : j.items()) v.push_back(static_cast<int32_t>(x.AsInt()));
  return v;
}
std::vector<double> Doubles(const base::Json& j) {
  std::vector<double> v;
  for (const base::Json& x : j.items()) v.push_back(x.AsDouble());
  return v;
}

class Harness {
 public:
  explicit Harness(const std::string& model, bool graphs = true) : tiny_(model, 64, 2048, graphs) {
    greedy_.temperature = 0;
  }
  const ModelConfig& config() const { return tiny_.config(); }
  Backend& backend() { return tiny_.get(); }

  SeqStep Step(int seq, const std::vector<int32_t>& tokens, int start, bool sample) {
    return testing::TinyStep(seq, tokens, start, &greedy_, &states_[seq], sample);
  }
  std::vector<float> Logits(const std::vector<SeqStep>& steps, int which = 0) {
    StepBatch batch;
    batch.seqs = steps;
    std::vector<std::vector<float>> logits;
    const absl::Status st = tiny_.get().ExecuteLogits(batch, &logits);
    EXPECT_TRUE(st.ok()) << st;
    return st.ok() ? logits[which] : std::vector<float>();
  }
  // Greedy continuation of several prompts decoded together (prefill of all in one step, then batched decode).
  std::vector<std::vector<int32_t>> Generate(const std::vector<std::vector<int32_t>>& prompts, int steps, int first_seq) {
    std::vector<std::vector<int32_t>> out(prompts.size());
    StepBatch batch;
    for (size_t i = 0; i < prompts.size(); ++i) batch.seqs.push_back(Step(first_seq + i, prompts[i], 0, true));
    for (int s = 0; s < steps; ++s) {
      StepResult r;
      const absl::Status st = tiny_.get().Execute(batch, &r);
      EXPECT_TRUE(st.ok()) << st;
      if (!st.ok()) return out;
      StepBatch next;
      for (size_t i = 0; i < prompts.size(); ++i) {
        out[i].push_back(r.tokens[i].id);
        const int pos = batch.seqs[i].start_pos + static_cast<int>(batch.seqs[i].tokens.size());
        next.seqs.push_back(Step(first_seq + i, {r.tokens[i].id}, pos, true));
      }
      batch = next;
    }
    return out;
  }

 private:
  testing::TinyBackend tiny_;
  SamplingParams greedy_;
  SamplerState states_[64];
};

double TopRelErr(const std::vector<float>& ours, const std::vector<int32_t>& ids, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ids.size(); ++i) num += std::pow(ours[ids[i]] - want[i], 2), den += want[i] * want[i];
  return std::sqrt(num / den);
}

TEST(AwqTinyMistral, LogitsMatchReferenceAtEveryPosition) {
  Harness h("awq-tiny-mistral");
  auto ref = base::ReadJsonFile(testing::SharedDir() + "/assets/awq-tiny-mistral/reference.json");
  ASSERT_TRUE(ref.ok()) << ref.status();
  int seq = 0;
  for (const base::Json& prompt : ref->Get("prompts").items()) {
    const std::vector<int32_t> ids = Ints(prompt.Get("ids"));
    // One prefill: the whole last-position logits vector.
    const std::vector<float> last = h.Logits({h.Step(seq++, ids, 0, true)});
    const std::vector<double> want_last = Doubles(prompt.Get("last_logits"));
    const double last_err = testing::RelErr(last, want_last);
    EXPECT_LT(last_err, 1e-2) << "prompt of " << ids.size();
    // Teacher-forced decode, one position per step: the reference's top-5 logits at every position.
    std::vector<double> errs;
    const int s = seq++;
    for (size_t p = 0; p < ids.size(); ++p) {
      const std::vector<float> logits = h.Logits({h.Step(s, {ids[p]}, static_cast<int>(p), true)});
      const std::vector<int32_t> top = Ints(prompt.Get("top5_ids").items()[p]);
      const std::vector<double> top_logits = Doubles(prompt.Get("top5_logits").items()[p]);
      errs.push_back(TopRelErr(logits, top, top_logits));
      if (top_logits[0] - top_logits[1] > 0.1) {
        EXPECT_EQ(Argmax(logits), top[0]) << "position " << p;
      }
      if (p + 1 == ids.size()) {
        EXPECT_LT(testing::RelErr(logits, want_last), 1e-2) << "decoded last position";
      }
    }
    std::vector<double> sorted = errs;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2], worst = sorted.back();
    std::printf("awq-tiny-mistral prompt of %zu: last-position rel err %.2e, top-5 rel err median %.2e max %.2e\n",
                ids.size(), last_err, median, worst);
    EXPECT_LE(median, 5e-3);
    EXPECT_LE(worst, 1e-2);
  }
}

TEST(AwqTinyMistral, GreedyIdsMatchReferenceTeacherForced) {
  for (bool graphs : {true, false}) {
    Harness h("awq-tiny-mistral", graphs);
    auto ref = base::ReadJsonFile(testing::SharedDir() + "/assets/awq-tiny-mistral/reference.json");
    ASSERT_TRUE(ref.ok());
    int seq = 0, checked = 0;
    for (const base::Json& prompt : ref->Get("prompts").items()) {
      const std::vector<int32_t> ids = Ints(prompt.Get("ids")), greedy = Ints(prompt.Get("greedy_ids"));
      const std::vector<double> margins = Doubles(prompt.Get("greedy_margins"));
      StepBatch batch;
      batch.seqs.push_back(h.Step(seq, ids, 0, true));
      for (size_t i = 0; i < greedy.size(); ++i) {
        StepResult r;
        ASSERT_TRUE(h.backend().Execute(batch, &r).ok());
        if (margins[i] > 0.1) {
          EXPECT_EQ(r.tokens[0].id, greedy[i]) << "step " << i << " graphs " << graphs;
          ++checked;
        }
        batch.seqs[0] = h.Step(seq, {greedy[i]}, static_cast<int>(ids.size() + i), true);  // teacher-forced
      }
      ++seq;
    }
    EXPECT_GT(checked, 40);
  }
}

TEST(AwqTinyMistral, PrefillEqualsDecodeAndChunkedPrefill) {
  Harness h("awq-tiny-mistral");
  auto ref = base::ReadJsonFile(testing::SharedDir() + "/assets/awq-tiny-mistral/reference.json");
  ASSERT_TRUE(ref.ok());
  const std::vector<int32_t> ids = Ints(ref->Get("prompts").items()[2].Get("ids"));
  const std::vector<float> full = h.Logits({h.Step(0, ids, 0, true)});
  std::vector<double> full_d(full.begin(), full.end());
  std::vector<float> chunked;
  for (size_t start = 0; start < ids.size(); start += 7) {
    const size_t end = std::min(ids.size(), start + 7);
    chunked = h.Logits({h.Step(1, std::vector<int32_t>(ids.begin() + start, ids.begin() + end), static_cast<int>(start), true)});
  }
  std::vector<float> decoded;
  for (size_t p = 0; p < ids.size(); ++p) decoded = h.Logits({h.Step(2, {ids[p]}, static_cast<int>(p), true)});
  EXPECT_LT(testing::RelErr(chunked, full_d), 5e-3);
  EXPECT_LT(testing::RelErr(decoded, full_d), 5e-3);
  EXPECT_EQ(Argmax(chunked), Argmax(full));
  EXPECT_EQ(Argmax(decoded), Argmax(full));
}

TEST(AwqTinyMistral, PrefillChunkThatSamplesNothing) {
  Harness h("awq-tiny-mistral");
  auto ref = base::ReadJsonFile(testing::SharedDir() + "/assets/awq-tiny-mistral/reference.json");
  ASSERT_TRUE(ref.ok());
  const std::vector<int32_t> ids = Ints(ref->Get("prompts").items()[1].Get("ids"));
  const std::vector<float> full = h.Logits({h.Step(0, ids, 0, true)});
  // The engine's chunked prefill: a first chunk with sample=false (no lm_head, id -1), then the rest.
  StepResult r;
  StepBatch first;
  first.seqs.push_back(h.Step(1, std::vector<int32_t>(ids.begin(), ids.begin() + 40), 0, false));
  ASSERT_TRUE(h.backend().Execute(first, &r).ok());
  ASSERT_EQ(r.tokens.size(), 1u);
  EXPECT_EQ(r.tokens[0].id, -1);
  const std::vector<float> rest = h.Logits({h.Step(1, std::vector<int32_t>(ids.begin() + 40, ids.end()), 40, true)});
  EXPECT_LT(testing::RelErr(rest, std::vector<double>(full.begin(), full.end())), 5e-3);
}

TEST(AwqTinyMistral, BatchOf32GivesTheSameGreedyTokensAsAlone) {
  Harness h("awq-tiny-mistral");
  auto ref = base::ReadJsonFile(testing::SharedDir() + "/assets/awq-tiny-mistral/reference.json");
  ASSERT_TRUE(ref.ok());
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 32; ++i) {
    std::vector<int32_t> ids = Ints(ref->Get("prompts").items()[i % 3].Get("ids"));
    ids.resize(ids.size() - (i / 3) % ids.size() / 2);  // 32 distinct lengths/prefixes
    prompts.push_back(ids);
  }
  const std::vector<std::vector<int32_t>> together = h.Generate(prompts, 12, 0);
  for (int i = 0; i < 32; ++i) {
    const std::vector<int32_t> alone = h.Generate({prompts[i]}, 12, 32 + (i % 32))[0];
    EXPECT_EQ(alone, together[i]) << "request " << i;
  }
  // Stronger than equal tokens: every row kind computes bit for bit the same alone and in a batch (linear.h's
  // row kinds, fixed K splits, attention partitions fixed by each sequence's own length).
  std::vector<SeqStep> prefill_all;
  for (int i = 0; i < 32; ++i) prefill_all.push_back(h.Step(i, prompts[i], 0, true));
  for (int i : {0, 7, 31}) {
    const std::vector<float> alone = h.Logits({h.Step(40 + i % 8, prompts[i], 0, true)});
    const std::vector<float> batched = h.Logits(prefill_all, i);
    ASSERT_EQ(alone.size(), batched.size());
    EXPECT_EQ(std::memcmp(alone.data(), batched.data(), alone.size() * sizeof(float)), 0) << "prefill of request " << i;
  }
}

TEST(TinyStoriesAwq, GreedyStoriesMatchReference) {
  Harness h("tiny-stories-awq");
  auto ref = base::ReadJsonFile(testing::SharedDir() + "/assets/tiny-stories-awq/reference.json");
  ASSERT_TRUE(ref.ok());
  int seq = 0, free_running_equal = 0, cases = 0;
  for (const base::Json& c : ref->Get("cases").items()) {
    const std::vector<int32_t> prompt = Ints(c.Get("prompt_ids")), greedy = Ints(c.Get("greedy_ids"));
    const std::vector<double> margins = Doubles(c.Get("greedy_margins"));
    // Free-running greedy story.
    std::vector<int32_t> story = h.Generate({prompt}, static_cast<int>(greedy.size()), seq++)[0];
    free_running_equal += story == greedy;
    ++cases;
    // Teacher-forced: every step whose reference margin exceeds fp16 error.
    StepBatch batch;
    batch.seqs.push_back(h.Step(seq, prompt, 0, true));
    for (size_t i = 0; i < greedy.size(); ++i) {
      StepResult r;
      ASSERT_TRUE(h.backend().Execute(batch, &r).ok());
      if (margins[i] > 0.05) {
        EXPECT_EQ(r.tokens[0].id, greedy[i]) << "case " << cases << " step " << i;
      }
      batch.seqs[0] = h.Step(seq, {greedy[i]}, static_cast<int>(prompt.size() + i), true);
    }
    ++seq;
  }
  std::printf("tiny-stories-awq: %d of %d free-running greedy stories identical to the reference\n",
              free_running_equal, cases);
}

// The CPU reference backend (float32) and the CUDA backend (fp16) on tiny-stories-awq: the same logits to fp16
// accuracy at every step of every story, the same greedy token wherever the CPU's top-2 margin exceeds fp16 noise,
// and the free-running stories compared whole.
TEST(TinyStoriesAwq, CudaMatchesTheCpuBackend) {
  Harness h("tiny-stories-awq");
  auto w = LoadModelWeights(testing::SharedDir() + "/assets/tiny-stories-awq");
  ASSERT_TRUE(w.ok()) << w.status();
  CpuBackendOptions copt;
  copt.num_blocks = testing::kTinyBlocksPerSeq;
  auto cpu = CreateCpuBackend(*w, copt);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto ref = base::ReadJsonFile(testing::SharedDir() + "/assets/tiny-stories-awq/reference.json");
  ASSERT_TRUE(ref.ok());
  int seq = 0, identical = 0, stories = 0, compared = 0;
  for (const base::Json& c : ref->Get("cases").items()) {
    const std::vector<int32_t> prompt = Ints(c.Get("prompt_ids"));
    std::vector<int32_t> cpu_story, context = prompt;
    for (int step = 0; step < 48; ++step) {
      SeqStep s = h.Step(0, context, 0, true);  // full recompute on both: block ids 0.. fit the CPU pool
      StepBatch batch;
      batch.seqs.push_back(s);
      std::vector<std::vector<float>> cpu_logits;
      ASSERT_TRUE((*cpu)->ExecuteLogits(batch, &cpu_logits).ok());
      const std::vector<float> gpu_logits = h.Logits({h.Step(seq, context, 0, true)});
      std::vector<double> want(cpu_logits[0].begin(), cpu_logits[0].end());
      EXPECT_LT(testing::RelErr(gpu_logits, want), 1e-2) << "story " << stories << " step " << step;
      std::vector<float> sorted = cpu_logits[0];
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
      const int32_t id = Argmax(cpu_logits[0]);
      if (sorted[0] - sorted[1] > 0.05f) {
        EXPECT_EQ(Argmax(gpu_logits), id) << "story " << stories << " step " << step;
        ++compared;
      }
      cpu_story.push_back(id);
      context.push_back(id);
      if (id == 1 || id == 2) break;
    }
    const std::vector<int32_t> gpu_story = h.Generate({prompt}, static_cast<int>(cpu_story.size()), seq + 1)[0];
    identical += gpu_story == cpu_story;
    ++stories;
    seq += 2;
  }
  std::printf("tiny-stories-awq: %d of %d free-running CUDA stories identical to the CPU backend's; %d steps compared\n",
              identical, stories, compared);
  EXPECT_GT(compared, 100);
}

TEST(AwqTinyMistral, BadBatchesAreRejectedNamingTheField) {
  Harness h("awq-tiny-mistral");
  StepResult r;
  StepBatch bad;
  bad.seqs.push_back(h.Step(0, {1, 32000}, 0, true));
  absl::Status st = h.backend().Execute(bad, &r);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("tokens[1]=32000"), std::string::npos) << st;
  bad.seqs[0] = h.Step(0, {1, 2, 3}, 0, true);
  bad.seqs[0].block_table.clear();
  st = h.backend().Execute(bad, &r);
  EXPECT_NE(st.message().find("block_table"), std::string::npos) << st;
  bad.seqs[0] = h.Step(0, {1}, 0, true);
  bad.seqs[0].block_table[0] = 1 << 20;
  st = h.backend().Execute(bad, &r);
  EXPECT_NE(st.message().find("block_table[0]"), std::string::npos) << st;
  // The backend still works after rejecting.
  EXPECT_TRUE(h.backend().Execute(StepBatch{{h.Step(0, {1, 2}, 0, true)}}, &r).ok());
}

}  // namespace
}  // namespace inference::cuda
