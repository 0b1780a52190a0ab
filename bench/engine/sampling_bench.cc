// The sampling kernel's time per step (kernels/sampling.h through GpuSampler) for 1, 32 and 256 rows of Mistral's
// 32000 logits, per parameter mix: CUDA events around the launch alone (the logits are restored from a pristine copy
// before each launch, since sampling scales and penalizes them in place), median of kReps after warm-up.
//
//   sampling_bench
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "inference/cuda/gpu_sampler.h"
#include "inference/engine/sampler.h"

namespace {

constexpr int kReps = 30, kWarmup = 3, kVocab = 32000;

struct Mix {
  const char* name;
  inference::SamplingParams params;
};

std::vector<Mix> Mixes() {
  std::vector<Mix> m;
  inference::SamplingParams p;
  p.temperature = 0;
  m.push_back({"greedy", p});
  p.logprobs_top_n = 5;
  m.push_back({"greedy+top5", p});
  p = {};
  p.temperature = 0.8f;
  m.push_back({"temperature", p});
  p.top_p = 0.9f;
  m.push_back({"top_p0.9", p});
  p.top_k = 50;
  m.push_back({"top_k50+top_p0.9", p});
  p = {};
  p.min_p = 0.05f;
  m.push_back({"min_p0.05", p});
  p = {};
  p.temperature = 0.7f, p.top_k = 1000, p.top_p = 0.95f, p.min_p = 0.01f, p.repetition_penalty = 1.2f;
  p.presence_penalty = 0.5f, p.frequency_penalty = 0.5f, p.logprobs_top_n = 20;
  m.push_back({"all+penalties+top20", p});
  return m;
}

}  // namespace

int main() {
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  std::printf("sampling kernel, vocab %d, %s\n%-22s %6s %10s %12s\n", kVocab, prop.name, "mix", "rows", "ms", "us/row");
  constexpr int kMaxRows = 256;
  auto sampler = inference::cuda::GpuSampler::Create(kMaxRows, kVocab, 4096);
  if (!sampler.ok()) {
    std::fprintf(stderr, "%s\n", sampler.status().ToString().c_str());
    return 1;
  }
  // LLM-like rows: normal logits (sd 3) with a few peaks, a different row each.
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> host(size_t{kMaxRows} * kVocab);
  for (float& x : host) x = normal(rng);
  for (int r = 0; r < kMaxRows; ++r)
    for (int j = 0; j < 4; ++j) host[size_t{1} * r * kVocab + rng() % kVocab] = 12.0f + j;
  float *pristine = nullptr, *work = nullptr;
  cudaMalloc(&pristine, host.size() * sizeof(float));
  cudaMalloc(&work, host.size() * sizeof(float));
  cudaMemcpy(pristine, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  // A sequence 300 tokens into its life: 200 distinct prompt tokens, 100 outputs over 60 distinct ids.
  std::vector<int32_t> prompt(200);
  for (int i = 0; i < 200; ++i) prompt[i] = (i * 97) % kVocab;
  for (const Mix& mix : Mixes()) {
    inference::SamplerState state;
    inference::InitSamplerState(mix.params, prompt, &state);
    for (int i = 0; i < 100; ++i) inference::RecordToken((i * 131) % 60 + 1000, &state);
    for (const int rows : {1, 32, 256}) {
      sampler->BeginStep();
      for (int r = 0; r < rows; ++r) (void)sampler->AddRow(mix.params, state);
      (void)sampler->Upload(nullptr);
      std::vector<float> t;
      for (int i = 0; i < kWarmup + kReps; ++i) {
        cudaMemcpyAsync(work, pristine, size_t{4} * rows * kVocab, cudaMemcpyDeviceToDevice);
        cudaEventRecord(a);
        (void)sampler->Launch(work, rows, nullptr);
        cudaEventRecord(b);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        if (i >= kWarmup) t.push_back(ms);
      }
      std::sort(t.begin(), t.end());
      const double ms = t[t.size() / 2];
      std::printf("%-22s %6d %10.4f %12.2f\n", mix.name, rows, ms, ms * 1000 / rows);
    }
  }
  const cudaError_t err = cudaDeviceSynchronize();
  std::printf("status: %s\n", cudaGetErrorString(err));
  cudaFree(pristine), cudaFree(work);
  return err == cudaSuccess ? 0 : 1;
}
