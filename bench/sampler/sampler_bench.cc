// Host sampling cost per token (inference/engine/sampler.h) at Mistral's vocabulary of 32000: the CPU backend
// samples every sequence this way, and the CUDA backend does for requests it cannot sample on the GPU.
//
//   sampler_bench [--iterations 2000] [--vocab 32000]
// Prints one markdown table row per configuration: p50 / p99 microseconds per SampleToken call.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "inference/engine/rng.h"
#include "inference/engine/sampler.h"

namespace {

using Clock = std::chrono::steady_clock;

// Logits ~ N(0, 3^2): about the spread of a 7B model's next-token logits.
constexpr double kLogitStddev = 3.0;
// Tokens already in prompt and output for the penalty configurations.
constexpr int kSeenTokens = 512;

std::vector<float> MakeLogits(int vocab, uint64_t seed) {
  uint64_t s = inference::SeedRng(seed);
  std::vector<float> l(vocab);
  for (float& x : l) {  // Box-Muller
    const double u1 = std::max(inference::NextUniform(&s), 1e-300), u2 = inference::NextUniform(&s);
    x = static_cast<float>(kLogitStddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
  }
  return l;
}

struct Config {
  const char* name;
  inference::SamplingParams params;
  bool penalties_seen;
};

}  // namespace

int main(int argc, char** argv) {
  int iterations = 2000, vocab = 32000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--iterations")) iterations = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--vocab")) vocab = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: sampler_bench [--iterations N] [--vocab V]\n");
      return 2;
    }
  }
  std::vector<Config> configs;
  auto add = [&](const char* name, auto mutate, bool seen) {
    inference::SamplingParams p;
    p.seed = 7;
    mutate(p);
    configs.push_back({name, p, seen});
  };
  add("greedy", [](inference::SamplingParams& p) { p.temperature = 0; }, false);
  add("temperature 0.8", [](inference::SamplingParams& p) { p.temperature = 0.8f; }, false);
  add("top_k 50", [](inference::SamplingParams& p) { p.top_k = 50; }, false);
  add("top_p 0.9", [](inference::SamplingParams& p) { p.top_p = 0.9f; }, false);
  add("min_p 0.05", [](inference::SamplingParams& p) { p.min_p = 0.05f; }, false);
  add("top_p 0.9 + penalties + logprobs 5", [](inference::SamplingParams& p) {
    p.top_p = 0.9f;
    p.repetition_penalty = 1.1f;
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.5f;
    p.logprobs_top_n = 5;
  }, true);

  const std::vector<float> base = MakeLogits(vocab, 1);
  std::printf("| configuration (vocab %d, %d calls) | p50 µs | p99 µs |\n|---|---:|---:|\n", vocab, iterations);
  for (const Config& c : configs) {
    inference::SamplerState st;
    std::vector<int32_t> prompt;
    if (c.penalties_seen) {
      for (int i = 0; i < kSeenTokens; ++i) prompt.push_back((i * 7919) % vocab);
    }
    inference::InitSamplerState(c.params, prompt, &st);
    std::vector<double> us;
    us.reserve(iterations);
    int64_t checksum = 0;
    for (int i = 0; i < iterations; ++i) {
      std::vector<float> logits = base;
      const inference::SamplerState keep = st;  // same penalty state each call; only the RNG moves on
      const auto t0 = Clock::now();
      checksum += inference::SampleToken(logits, c.params, &st).id;
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      const uint64_t rng = st.rng_state;
      st = keep;
      st.rng_state = rng;
    }
    std::sort(us.begin(), us.end());
    std::printf("| %s | %.1f | %.1f |\n", c.name, us[us.size() / 2], us[us.size() * 99 / 100]);
    if (checksum < 0) std::printf("impossible\n");
  }
  return 0;
}
