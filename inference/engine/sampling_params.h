// Sampling parameters of one request and the per-sequence state sampling needs. Plain data.
//
// Validation (ranges as in proto/awqserve/v1/common.proto) is ValidateSamplingParams in sampler.h.
#pragma once

#include <cstdint>
#include <unordered_map>

namespace inference {

struct SamplingParams {
  float temperature = 1.0f;        // 0: greedy
  int32_t top_k = 0;               // 0: disabled
  float top_p = 1.0f;              // 1: disabled
  float min_p = 0.0f;              // 0: disabled
  float repetition_penalty = 1.0f; // 1: disabled; applies to prompt and output tokens
  float presence_penalty = 0.0f;   // output tokens only
  float frequency_penalty = 0.0f;  // output tokens only
  uint64_t seed = 0;
  int32_t logprobs_top_n = -1;     // -1: no logprobs; 0: the chosen token's; n: plus the top n
};

// What sampling needs to remember about one sequence between steps. Owned by the engine's sequence.
struct SamplerState {
  uint64_t rng_state = 0;                          // advanced by each sample; seeded from SamplingParams::seed
  std::unordered_map<int32_t, int32_t> output_counts;  // token -> times generated (presence/frequency)
  std::unordered_map<int32_t, bool> seen;              // tokens in prompt or output (repetition penalty)
};

}  // namespace inference
