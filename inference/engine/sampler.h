// Token sampling on host logits: penalties, temperature, top-k, top-p, min-p, a per-sequence seeded RNG, and
// logprobs. The CPU backend calls it; the CUDA backend mirrors it on the GPU (and is tested against it).
// Pure functions of (logits, params, state): the same seed and request give the same tokens whatever else is
// in the batch. Thread-safe as long as each SamplerState is used by one thread.
//
//   SamplerState st;
//   InitSamplerState(params, prompt_ids, &st);
//   SampledToken t = SampleToken(logits, params, &st);   // logits modified in place; st observes t.id
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "inference/engine/backend.h"
#include "inference/engine/sampling_params.h"

namespace inference {

// INVALID_ARGUMENT naming the field and its range (see proto/awqserve/v1/common.proto).
[[nodiscard]] absl::Status ValidateSamplingParams(const SamplingParams& params, int vocab_size);

// Seeds the RNG from params.seed and records the prompt's tokens for the repetition penalty.
void InitSamplerState(const SamplingParams& params, const std::vector<int32_t>& prompt, SamplerState* state);

// Applies penalties and temperature to `logits` (in place), filters, draws one token and records it in `state`.
SampledToken SampleToken(std::vector<float>& logits, const SamplingParams& params, SamplerState* state);

}  // namespace inference
