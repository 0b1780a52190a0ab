// Sampling on the GPU (kernels/sampling.h through gpu_sampler.h) against the CPU sampler (inference/engine/sampler.h)
// on the same logits and states: the same ids, logprobs and top-n within 1e-4, the same penalized and scaled logits,
// and the same state advance (RNG, counts), over random rows (vocabularies 1..32000, ties, -inf) and many parameter
// combinations; then end to end through CudaBackend on the tiny checkpoints (eager and CUDA-graph decode steps) against
// the CPU sampler on the backend's own logits; and bad inputs rejected naming the field.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "inference/cuda/cuda_backend.h"
#include "inference/cuda/gpu_sampler.h"
#include "inference/engine/rng.h"
#include "inference/engine/sampler.h"
#include "tests/gpu/gpu_test_util.h"
#include "tests/gpu/tiny_backend.h"

namespace inference::cuda {
namespace {

using testing::DeviceArray;

constexpr float kLogprobTolerance = 1e-4f;

enum class Shape { kUniform, kPeaked, kTies, kNegInf, kAllEqual, kOneFinite };

std::vector<float> RandomLogits(int vocab, Shape shape, std::mt19937* rng) {
  std::uniform_real_distribution<float> uni(-8.0f, 8.0f);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> l(vocab);
  for (float& x : l) x = shape == Shape::kPeaked ? normal(*rng) : uni(*rng);
  if (shape == Shape::kPeaked)
    for (int i = 0; i < std::min(vocab, 3); ++i) l[(*rng)() % vocab] = 14.0f + static_cast<float>(i);
  if (shape == Shape::kTies)
    for (float& x : l) x = std::round(x * 2.0f) / 2.0f;  // 33 distinct values: large tie groups
  if (shape == Shape::kNegInf) {
    const int finite = static_cast<int>((*rng)() % vocab);  // a row of only -inf has no distribution (NaN both sides)
    for (int i = 0; i < vocab; ++i)
      if (i != finite && (*rng)() % 10 == 0) l[i] = -std::numeric_limits<float>::infinity();
  }
  if (shape == Shape::kAllEqual) std::fill(l.begin(), l.end(), 0.25f);
  if (shape == Shape::kOneFinite) {
    std::fill(l.begin(), l.end(), -std::numeric_limits<float>::infinity());
    l[(*rng)() % vocab] = 1.5f;
  }
  return l;
}

// A parameter combination: the stage under test plus random logprobs and seed.
SamplingParams RandomParams(int vocab, int which, std::mt19937* rng) {
  SamplingParams p;
  const float temps[] = {0.6f, 1.0f, 1.37f};
  p.temperature = temps[(*rng)() % 3];
  const int ks[] = {1, 2, 5, 50, 1000};
  // No dyadic fractions: with equal logits, top_p * N tokens would sit exactly on a boundary both samplers round.
  const float ps[] = {0.07f, 0.55f, 0.9f, 0.97f};
  const float mins[] = {0.02f, 0.2f, 0.8f, 1.0f};
  switch (which % 10) {
    case 0: p.temperature = 0; break;                                              // greedy
    case 1: break;                                                                 // full vocabulary, id order
    case 2: p.top_k = std::min(vocab, ks[(*rng)() % 5]); break;
    case 3: p.top_p = ps[(*rng)() % 4]; break;
    case 4: p.min_p = mins[(*rng)() % 4]; break;
    case 5: p.top_k = std::min(vocab, ks[(*rng)() % 5]), p.top_p = ps[(*rng)() % 4], p.min_p = mins[(*rng)() % 3]; break;
    case 6: p.top_k = vocab; break;                                                // on, keeps all: sorted order
    case 7: p.top_k = std::max(1, vocab - 1), p.top_p = 0.999f; break;
    case 8: p.temperature = 0, p.repetition_penalty = 1.4f, p.presence_penalty = 0.7f; break;
    default: p.top_p = 0.9f; break;
  }
  // Penalties on a third of the rows (in every mode), logprobs on half.
  if ((*rng)() % 3 == 0) {
    const float reps[] = {0.75f, 1.3f, 2.0f};
    p.repetition_penalty = reps[(*rng)() % 3];
    p.presence_penalty = (*rng)() % 2 ? 0.5f : -1.25f;
    p.frequency_penalty = (*rng)() % 2 ? 0.3f : 0.0f;
  }
  if ((*rng)() % 2) p.logprobs_top_n = static_cast<int32_t>((*rng)() % 22) - 1;  // -1..20
  p.seed = (*rng)();
  return p;
}

SamplerState RandomState(const SamplingParams& p, int vocab, std::mt19937* rng) {
  std::vector<int32_t> prompt(1 + (*rng)() % 40);
  for (int32_t& t : prompt) t = static_cast<int32_t>((*rng)() % std::min(vocab, 64));  // repeats
  SamplerState st;
  InitSamplerState(p, prompt, &st);
  const int outputs = (*rng)() % 12;
  for (int i = 0; i < outputs; ++i) RecordToken(static_cast<int32_t>((*rng)() % vocab), &st);
  for (int i = 0; i < 3; ++i) NextUniform(&st.rng_state);  // a sequence some draws into its life
  return st;
}

// Equal (also both -inf: a token of -inf logit) or within the tolerance.
void ExpectLogprob(float gpu, float cpu, const std::string& where) {
  if (gpu != cpu) {
    EXPECT_NEAR(gpu, cpu, kLogprobTolerance) << where;
  }
}

// Compares one GPU result with the CPU sampler's on the same row. Top-n ids may differ only between entries with
// equal logprobs.
void ExpectSameToken(const SampledToken& gpu, const SampledToken& cpu, const std::vector<float>& cpu_logprobs,
                     const std::string& where) {
  EXPECT_EQ(gpu.id, cpu.id) << where;
  ExpectLogprob(gpu.logprob, cpu.logprob, where);
  ASSERT_EQ(gpu.top.size(), cpu.top.size()) << where;
  for (size_t j = 0; j < cpu.top.size(); ++j) {
    ExpectLogprob(gpu.top[j].second, cpu.top[j].second, where + " top " + std::to_string(j));
    if (gpu.top[j].first != cpu.top[j].first) {
      ASSERT_GE(gpu.top[j].first, 0) << where;
      EXPECT_EQ(cpu_logprobs[gpu.top[j].first], cpu.top[j].second) << where << " top " << j << " not a tie";
    }
  }
}

void ExpectSameState(const SamplerState& gpu, const SamplerState& cpu, const std::string& where) {
  EXPECT_EQ(gpu.rng_state, cpu.rng_state) << where;
  EXPECT_EQ(gpu.output_counts, cpu.output_counts) << where;
  EXPECT_EQ(gpu.seen, cpu.seen) << where;
}

// Samples `rows` random rows on the GPU and on the CPU; returns the number of rows compared.
int CompareBatch(int vocab, int rows, std::mt19937* rng, int* sampled_distinct) {
  auto sampler = GpuSampler::Create(rows, vocab, 4096);
  EXPECT_TRUE(sampler.ok()) << sampler.status();
  if (!sampler.ok()) return 0;
  std::vector<float> all(static_cast<size_t>(rows) * vocab);
  std::vector<std::vector<float>> cpu_logits(rows);
  std::vector<SamplingParams> params(rows);
  std::vector<SamplerState> gpu_states(rows), cpu_states(rows);
  sampler->BeginStep();
  for (int r = 0; r < rows; ++r) {
    const Shape shape = static_cast<Shape>((*rng)() % 6);
    cpu_logits[r] = RandomLogits(vocab, shape, rng);
    std::copy(cpu_logits[r].begin(), cpu_logits[r].end(), all.begin() + static_cast<size_t>(r) * vocab);
    params[r] = RandomParams(vocab, r, rng);
    gpu_states[r] = cpu_states[r] = RandomState(params[r], vocab, rng);
    EXPECT_TRUE(sampler->AddRow(params[r], gpu_states[r]).ok());
  }
  DeviceArray<float> logits(all);
  EXPECT_TRUE(sampler->Upload(nullptr).ok());
  EXPECT_TRUE(sampler->Launch(logits.get(), rows, nullptr).ok());
  EXPECT_TRUE(sampler->Download(rows, nullptr).ok());
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
  const std::vector<float> gpu_logits = logits.Download();
  std::vector<int32_t> ids;
  for (int r = 0; r < rows; ++r) {
    const std::string where = "vocab " + std::to_string(vocab) + " row " + std::to_string(r) + " T=" +
                              std::to_string(params[r].temperature) + " k=" + std::to_string(params[r].top_k) +
                              " p=" + std::to_string(params[r].top_p) + " min_p=" + std::to_string(params[r].min_p) +
                              " rep=" + std::to_string(params[r].repetition_penalty) +
                              " n=" + std::to_string(params[r].logprobs_top_n);
    const SampledToken cpu = SampleToken(cpu_logits[r], params[r], &cpu_states[r]);  // cpu_logits[r] now penalized
    const SampledToken gpu = sampler->Finish(r, params[r], &gpu_states[r]);
    ExpectSameToken(gpu, cpu, LogSoftmax(cpu_logits[r]), where);
    ExpectSameState(gpu_states[r], cpu_states[r], where);
    // The penalized, temperature-scaled logits are the CPU sampler's (the same float operations).
    int differ = 0;
    for (int i = 0; i < vocab; ++i) differ += gpu_logits[static_cast<size_t>(r) * vocab + i] != cpu_logits[r][i];
    EXPECT_EQ(differ, 0) << where;
    ids.push_back(gpu.id);
  }
  std::sort(ids.begin(), ids.end());
  *sampled_distinct += static_cast<int>(std::unique(ids.begin(), ids.end()) - ids.begin());
  return rows;
}

TEST(GpuSampler, MatchesTheCpuSamplerOnRandomRows) {
  std::mt19937 rng(2024);
  int compared = 0, distinct = 0;
  for (const int vocab : {1, 2, 7, 100, 1000, 4099, 32000}) {
    for (int batch = 0; batch < (vocab == 32000 ? 6 : 3); ++batch) compared += CompareBatch(vocab, 60, &rng, &distinct);
  }
  std::printf("gpu sampler: %d random rows compared with the CPU sampler (%d distinct ids drawn)\n", compared, distinct);
  EXPECT_EQ(compared, (6 * 3 + 6) * 60);
}

// The same seed gives the same draws through many steps: a sequence sampled 200 times on the GPU (feeding its own
// tokens back through the penalties) follows the CPU sampler token by token.
TEST(GpuSampler, FollowsTheCpuSamplerOverManySteps) {
  constexpr int kVocab = 32000, kSteps = 200;
  std::mt19937 rng(7);
  const std::vector<float> base = RandomLogits(kVocab, Shape::kPeaked, &rng);
  SamplingParams p;
  p.temperature = 1.1f, p.top_k = 200, p.top_p = 0.95f, p.min_p = 0.01f, p.repetition_penalty = 1.1f;
  p.frequency_penalty = 0.2f, p.logprobs_top_n = 3, p.seed = 99;
  SamplerState gpu_state, cpu_state;
  InitSamplerState(p, {5, 6, 7}, &gpu_state);
  InitSamplerState(p, {5, 6, 7}, &cpu_state);
  auto sampler = GpuSampler::Create(1, kVocab, 4096);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  DeviceArray<float> logits(kVocab);
  for (int step = 0; step < kSteps; ++step) {
    std::vector<float> row = base;
    std::rotate(row.begin(), row.begin() + (step * 37) % kVocab, row.end());  // a different peak each step
    ASSERT_EQ(cudaMemcpy(logits.get(), row.data(), sizeof(float) * kVocab, cudaMemcpyHostToDevice), cudaSuccess);
    sampler->BeginStep();
    ASSERT_TRUE(sampler->AddRow(p, gpu_state).ok());
    ASSERT_TRUE(sampler->Upload(nullptr).ok());
    ASSERT_TRUE(sampler->Launch(logits.get(), 1, nullptr).ok());
    ASSERT_TRUE(sampler->Download(1, nullptr).ok());
    ASSERT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
    const SampledToken cpu = SampleToken(row, p, &cpu_state);
    const SampledToken gpu = sampler->Finish(0, p, &gpu_state);
    ExpectSameToken(gpu, cpu, LogSoftmax(row), "step " + std::to_string(step));
    ExpectSameState(gpu_state, cpu_state, "step " + std::to_string(step));
    if (gpu.id != cpu.id) break;
  }
  EXPECT_GT(cpu_state.output_counts.size(), 20u);  // the draws really spread over many tokens
}

TEST(GpuSampler, RejectsBadParamsAndTooManyRowsNamingTheField) {
  EXPECT_EQ(GpuSampler::Create(0, 32000, 4096).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(GpuSampler::Create(4, kMaxSampleVocab + 1, 4096).status().message().find("vocab=2097153"),
            std::string::npos);
  auto sampler = GpuSampler::Create(2, 100, 8);
  ASSERT_TRUE(sampler.ok()) << sampler.status();
  SamplerState st;
  SamplingParams bad;
  bad.top_p = 0.0f;
  sampler->BeginStep();
  absl::Status s = sampler->AddRow(bad, st);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("sampling.top_p"), std::string::npos) << s;
  bad = SamplingParams{};
  bad.top_k = 101;
  EXPECT_NE(sampler->AddRow(bad, st).message().find("sampling.top_k"), std::string::npos);
  EXPECT_EQ(sampler->rows(), 0);
  // Penalty entries beyond rows x min(vocab, max_context) = 16.
  SamplingParams rep;
  rep.repetition_penalty = 1.5f;
  std::vector<int32_t> prompt(17);
  for (int i = 0; i < 17; ++i) prompt[i] = i;
  InitSamplerState(rep, prompt, &st);
  s = sampler->AddRow(rep, st);
  EXPECT_NE(s.message().find("penalty entries exceed 16"), std::string::npos) << s;
  sampler->BeginStep();
  EXPECT_TRUE(sampler->AddIdleRow().ok());
  EXPECT_TRUE(sampler->AddIdleRow().ok());
  s = sampler->AddIdleRow();
  EXPECT_NE(s.message().find("max_rows=2"), std::string::npos) << s;
  DeviceArray<float> logits(300);
  EXPECT_NE(sampler->Launch(logits.get(), 3, nullptr).message().find("rows=3"), std::string::npos);
}

// ---- End to end: CudaBackend's sampled tokens against the CPU sampler on the backend's own logits. -------------

// A step of sequence `seq` that samples with `p` and `st` (tiny_backend.h's block allotment).
SeqStep Step(int seq, const std::vector<int32_t>& tokens, int start, const SamplingParams* p, SamplerState* st) {
  return testing::TinyStep(seq, tokens, start, p, st);
}

// Decodes `params.size()` sequences together for `steps` steps. Each step: the backend's logits (ExecuteLogits, the
// same launches as the step), the CPU sampler on them with a copy of each state, then Execute; ids, logprobs, top-n
// and states must agree. Returns the steps compared.
int DecodeAgainstCpuSampler(const std::string& model, bool graphs, const std::vector<SamplingParams>& params, int steps) {
  testing::TinyBackend b(model, /*max_seqs=*/8, /*max_batch_tokens=*/1024, graphs);
  const size_t n = params.size();
  std::vector<SamplerState> gpu(n), cpu(n);
  std::vector<std::vector<int32_t>> prompts(n);
  StepBatch batch;
  for (size_t i = 0; i < n; ++i) {
    for (int t = 0; t < 5 + static_cast<int>(i) * 3; ++t) prompts[i].push_back(1 + (t * 37 + static_cast<int>(i) * 11) % 300);
    InitSamplerState(params[i], prompts[i], &gpu[i]);
    InitSamplerState(params[i], prompts[i], &cpu[i]);
    batch.seqs.push_back(Step(static_cast<int>(i), prompts[i], 0, &params[i], &gpu[i]));
  }
  int compared = 0;
  for (int step = 0; step < steps; ++step) {
    std::vector<std::vector<float>> logits;
    const absl::Status ls = b.get().ExecuteLogits(batch, &logits);
    EXPECT_TRUE(ls.ok()) << ls;
    if (!ls.ok()) return compared;
    StepResult r;
    const absl::Status es = b.get().Execute(batch, &r);
    EXPECT_TRUE(es.ok()) << es;
    if (!es.ok()) return compared;
    StepBatch next;
    for (size_t i = 0; i < n; ++i) {
      const std::string where = model + (graphs ? " graphs" : " eager") + " seq " + std::to_string(i) + " step " +
                                std::to_string(step);
      const SampledToken want = SampleToken(logits[i], params[i], &cpu[i]);
      ExpectSameToken(r.tokens[i], want, LogSoftmax(logits[i]), where);
      ExpectSameState(gpu[i], cpu[i], where);
      if (r.tokens[i].id != want.id) return compared;
      const int pos = batch.seqs[i].start_pos + static_cast<int>(batch.seqs[i].tokens.size());
      next.seqs.push_back(Step(static_cast<int>(i), {want.id}, pos, &params[i], &gpu[i]));
    }
    batch = next;
    ++compared;
  }
  return compared;
}

std::vector<SamplingParams> MixedParams(int n) {
  std::vector<SamplingParams> out;
  for (int i = 0; i < n; ++i) {
    SamplingParams p;
    p.seed = 1000 + i;
    switch (i % 4) {
      case 0: p.temperature = 0.8f, p.top_p = 0.9f; break;
      case 1: p.temperature = 1.2f, p.top_k = 40, p.repetition_penalty = 1.3f, p.logprobs_top_n = 5; break;
      case 2: p.min_p = 0.05f, p.presence_penalty = 0.6f, p.frequency_penalty = 0.4f, p.logprobs_top_n = 0; break;
      default: p.temperature = 0, p.repetition_penalty = 1.2f, p.logprobs_top_n = 20; break;
    }
    out.push_back(p);
  }
  return out;
}

TEST(CudaBackendSampling, EagerStepsMatchTheCpuSamplerOnTheBackendsLogits) {
  for (const std::string model : {"tiny-stories-awq", "awq-tiny-mistral"}) {
    EXPECT_EQ(DecodeAgainstCpuSampler(model, /*graphs=*/false, MixedParams(3), 24), 24) << model;
  }
}

// Four sequences fill the graph bucket of 4, so the replayed decode graph runs exactly ExecuteLogits' launches.
TEST(CudaBackendSampling, GraphStepsMatchTheCpuSamplerOnTheBackendsLogits) {
  for (const std::string model : {"tiny-stories-awq", "awq-tiny-mistral"}) {
    EXPECT_EQ(DecodeAgainstCpuSampler(model, /*graphs=*/true, MixedParams(4), 24), 24) << model;
  }
}

// A graph bucket with a padding row (3 sequences in the bucket of 4): the padding row is sampled idle and the three
// sequences get valid tokens, their states advanced exactly once per step.
TEST(CudaBackendSampling, GraphPaddingRowsAreHarmless) {
  testing::TinyBackend b("tiny-stories-awq", /*max_seqs=*/8, /*max_batch_tokens=*/1024, /*graphs=*/true);
  const std::vector<SamplingParams> params = MixedParams(3);
  std::vector<SamplerState> st(3);
  StepBatch batch;
  for (int i = 0; i < 3; ++i) {
    InitSamplerState(params[i], {1, 2, 3}, &st[i]);
    batch.seqs.push_back(Step(i, {1, 2, 3}, 0, &params[i], &st[i]));
  }
  for (int step = 0; step < 8; ++step) {
    StepResult r;
    ASSERT_TRUE(b.get().Execute(batch, &r).ok());
    for (int i = 0; i < 3; ++i) {
      ASSERT_GE(r.tokens[i].id, 0);
      ASSERT_LT(r.tokens[i].id, 512);
      int recorded = 0;
      for (const auto& [id, count] : st[i].output_counts) recorded += count;
      EXPECT_EQ(recorded, step + 1);
      batch.seqs[i] = Step(i, {r.tokens[i].id}, batch.seqs[i].start_pos + static_cast<int>(batch.seqs[i].tokens.size()),
                           &params[i], &st[i]);
    }
  }
}

}  // namespace
}  // namespace inference::cuda
