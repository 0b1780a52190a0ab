// The narrow interface between the engine and a compute backend (CPU reference, CUDA). The engine's scheduler
// decides what runs; a backend runs one batched step over the paged KV cache and samples the next tokens.
// Backends know nothing of requests, queues or gRPC.
//
// Thread-safety: a backend is used by the engine thread only.
//
//   StepBatch batch;                       // built by the scheduler
//   StepResult result;
//   RETURN_IF_ERROR(backend->Execute(batch, &result));
//   // result.tokens[k] is the token sampled for batch.seqs[k] when batch.seqs[k].sample is true
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "inference/engine/kv_layout.h"
#include "inference/engine/sampling_params.h"

namespace inference {

// One sequence's part of a step: a chunk of its prompt (prefill) or its one newest token (decode).
struct SeqStep {
  std::vector<int32_t> tokens;       // the new tokens, written to the KV cache at positions start_pos...
  int32_t start_pos = 0;             // position of tokens[0]; positions [0, start_pos) are already cached
  std::vector<int32_t> block_table;  // physical block of each logical block covering [0, start_pos + n)
  bool sample = false;               // compute logits of the last token and sample the next one
  const SamplingParams* sampling = nullptr;   // required when sample
  SamplerState* sampler_state = nullptr;      // the sequence's RNG and token counts; updated by sampling
};

struct StepBatch {
  std::vector<SeqStep> seqs;
  int total_tokens() const {
    int n = 0;
    for (const SeqStep& s : seqs) n += static_cast<int>(s.tokens.size());
    return n;
  }
};

struct SampledToken {
  int32_t id = -1;
  float logprob = 0;                               // of the chosen token (when logprobs are asked for)
  std::vector<std::pair<int32_t, float>> top;      // top-n (id, logprob), most likely first
};

struct StepResult {
  std::vector<SampledToken> tokens;  // one per SeqStep (id -1 where sample was false)
};

struct BackendInfo {
  std::string name;                  // "cpu", "cuda"
  KvLayout kv;                       // the pool the backend allocated
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const BackendInfo& info() const = 0;
  // Runs the forward pass of every sequence in the batch, writing their new tokens' K/V into the cache, then
  // samples for the sequences that ask. On error no token was sampled; the cache contents of this step's
  // positions are unspecified (the engine fails the affected sequences).
  [[nodiscard]] virtual absl::Status Execute(const StepBatch& batch, StepResult* result) = 0;
  // Full logits of the last token of each sampling sequence (tests and debugging; not on the hot path).
  [[nodiscard]] virtual absl::Status ExecuteLogits(const StepBatch& batch, std::vector<std::vector<float>>* logits) = 0;
};

}  // namespace inference
