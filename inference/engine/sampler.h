// Token sampling on host logits: penalties, temperature, top-k, top-p, min-p, a per-sequence seeded RNG, and
// logprobs. The CPU backend calls it; the CUDA backend mirrors it on the GPU (and is tested against it).
// Pure functions of (logits, params, state): the same seed and request give the same tokens whatever else is
// in the batch. Thread-safe as long as each SamplerState is used by one thread.
//
//   SamplerState st;
//   InitSamplerState(params, prompt_ids, &st);
//   SampledToken t = SampleToken(logits, params, &st);   // logits modified in place; st observes t.id
//
// The order of operations (vLLM's): repetition penalty (prompt + output tokens, CTRL: positive logits divided,
// negative multiplied) -> presence/frequency penalties (output tokens, OpenAI) -> temperature -> logprobs
// (log-softmax here, before any filtering) -> greedy argmax at temperature 0, else top-k -> top-p -> min-p ->
// one draw from the counter-based RNG (rng.h) by inverse CDF over the kept tokens (FilterCandidates' order).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "inference/engine/backend.h"
#include "inference/engine/sampling_params.h"

namespace inference {

// The limits of SamplingParams, as proto/awqserve/v1/common.proto states them.
inline constexpr float kMaxTemperature = 100.0f;          // [0, 100]
inline constexpr float kMaxRepetitionPenalty = 2.0f;      // (0, 2]
inline constexpr float kMaxAbsPresencePenalty = 2.0f;     // [-2, 2]
inline constexpr float kMaxAbsFrequencyPenalty = 2.0f;    // [-2, 2]
inline constexpr int32_t kMaxLogprobsTopN = 20;           // LogprobOptions.top_n: [0, 20]

// INVALID_ARGUMENT naming the field and its range (see proto/awqserve/v1/common.proto). NaN is out of every range.
[[nodiscard]] absl::Status ValidateSamplingParams(const SamplingParams& params, int vocab_size);

// Seeds the RNG from params.seed and records the prompt's tokens for the repetition penalty.
void InitSamplerState(const SamplingParams& params, const std::vector<int32_t>& prompt, SamplerState* state);

// Applies penalties and temperature to `logits` (in place), filters, draws one token and records it in `state`.
SampledToken SampleToken(std::vector<float>& logits, const SamplingParams& params, SamplerState* state);

// ---- The stages SampleToken is made of, exposed so each is tested on its own. -----------------------------------

// Repetition, presence and frequency penalties, in place.
void ApplyPenalties(const SamplingParams& params, const SamplerState& state, std::vector<float>& logits);

// Natural-log softmax in double precision (-inf logits give -inf).
std::vector<float> LogSoftmax(const std::vector<float>& logits);

// The first index of the largest logit (ties go to the lowest id, like torch.argmax).
int32_t Argmax(const std::vector<float>& logits);

// The tokens top-k, top-p and min-p keep, each with its probability under softmax(logits) (not renormalized):
// most likely first (ties by lower id) when a filter is on; the whole vocabulary in id order when none is.
// Never empty for a non-empty vocabulary. Only the kept prefix is sorted (grown by selection as needed).
std::vector<std::pair<int32_t, double>> FilterCandidates(const std::vector<float>& logits, const SamplingParams& params);

// Inverse-CDF draw: the first candidate whose cumulative (renormalized) probability exceeds u in [0, 1).
int32_t DrawCandidate(const std::vector<std::pair<int32_t, double>>& candidates, double u);

// Records a generated token: output counts (presence/frequency) and the seen set (repetition).
void RecordToken(int32_t id, SamplerState* state);

}  // namespace inference
