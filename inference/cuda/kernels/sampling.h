// Token sampling on the GPU, one CTA per row of fp32 logits, with exactly the CPU sampler's semantics
// (inference/engine/sampler.h): repetition penalty (seen tokens, CTRL rule) -> presence/frequency penalties (output
// counts) -> temperature -> greedy argmax at temperature 0, else top-k -> top-p -> min-p -> one inverse-CDF draw
// with the row's uniform `u` over the kept tokens (most likely first, ties by lower id; the whole vocabulary in id
// order when no filter is on) -> the chosen token's log-softmax and the top-n (id, logprob). Only ids and those few
// logprobs go to the host; the logits rows are modified in place (penalties, temperature).
//
// Filtering never sorts the vocabulary: each cut (top-k count, top-p mass, the draw) is a radix select over the
// logits' order-preserving keys with count and mass histograms; masses are exp(l - max) in fixed point, so sums are
// exact integers and a row's result depends on nothing but the row (no atomics order, no batch-size choices).
// Kernels know nothing of requests; launchers never allocate. Thread-safety: launchers are reentrant.
//
//   SampleParams sp;                    // device pointers: logits, rows, penalties, workspace, outputs
//   RETURN_IF_ERROR(ValidateSample(sp));
//   LaunchSample(sp, stream);           // sp.ids[r], sp.logprobs[r], sp.top_ids[r * kMaxTopLogprobs + j]...
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

// LogprobOptions.top_n's limit (sampler.h: kMaxLogprobsTopN); the stride of the top-n outputs.
inline constexpr int kMaxTopLogprobs = 20;
// Masses are exp(l - max) <= 1 scaled by 2^(63 - ceil(log2(vocab))), so a row's sum fits 63 bits; the vocabulary
// limit keeps at least 42 fractional bits (absolute error 2^-43 per token against the CPU's double sums).
inline constexpr int kMaxSampleVocab = 1 << 21;

// One row's sampling parameters (SamplingParams after validation) and its draw.
struct SampleRow {
  double u = 0;                       // the draw's uniform in [0, 1) (NextUniform of the row's RNG; unused if greedy)
  float temperature = 0;              // 0: greedy
  int32_t top_k = 0;                  // 0 or >= vocab: off
  float top_p = 1;                    // 1: off
  float min_p = 0;                    // 0: off
  float repetition_penalty = 1;       // applied to entries with seen != 0
  float presence_penalty = 0;         // applied to entries with output_count > 0
  float frequency_penalty = 0;
  int32_t logprobs_top_n = -1;        // -1: no logprobs; 0: the chosen token's; n <= kMaxTopLogprobs: plus the top n
  int32_t penalty_begin = 0;          // this row's entries are penalties[penalty_begin, penalty_end)
  int32_t penalty_end = 0;
};

// A token a row's penalties touch (each token at most once per row).
struct PenaltyEntry {
  int32_t token = 0;
  int32_t output_count = 0;  // times generated (presence/frequency)
  int32_t seen = 0;          // in the prompt or the output (repetition)
};

struct SampleParams {
  float* logits = nullptr;              // [rows][vocab], penalized and temperature-scaled in place
  int rows = 0, vocab = 0;
  const SampleRow* row_params = nullptr;      // [rows]
  const PenaltyEntry* penalties = nullptr;    // indexed by the rows' [penalty_begin, penalty_end); may be null when
                                              // no row has entries
  double* workspace = nullptr;          // SampleWorkspaceBytes(rows, vocab)
  int32_t* ids = nullptr;               // [rows] the sampled token
  float* logprobs = nullptr;            // [rows] its log-softmax (0 when logprobs_top_n < 0)
  int32_t* top_ids = nullptr;           // [rows][kMaxTopLogprobs], the first logprobs_top_n written
  float* top_logprobs = nullptr;        // [rows][kMaxTopLogprobs]
};

size_t SampleWorkspaceBytes(int rows, int vocab);
// INVALID_ARGUMENT naming the field and the limit (null pointers, rows < 1, vocab outside [1, kMaxSampleVocab]).
[[nodiscard]] absl::Status ValidateSample(const SampleParams& p);
void LaunchSample(const SampleParams& p, cudaStream_t stream);

}  // namespace inference::cuda
