// The Mistral (and Llama) forward pass on the CPU, over a flat batch of new tokens from any number of sequences,
// reading and extending the paged KV cache. Inputs are trusted here: the backend validates ids and block tables.
//
// Thread-safety: engine thread only (mutates the cache and the scratch buffers).
//
//   KvPools kv = MakeKvPools(layout);
//   ForwardScratch scratch;
//   MistralForward(model, rows, tokens, {rows.size() - 1}, kv, pool, scratch, &logits);   // logits [1, vocab]
#pragma once

#include <cstdint>
#include <vector>

#include "inference/cpu/cpu_model.h"
#include "inference/cpu/paged_attention.h"
#include "inference/cpu/thread_pool.h"
#include "inference/engine/kv_layout.h"

namespace inference {

// One K pool and one V pool per layer, float32, laid out as kv_layout.h says.
struct KvPools {
  KvLayout layout;
  std::vector<std::vector<float>> k;
  std::vector<std::vector<float>> v;
};
KvPools MakeKvPools(const KvLayout& layout);

// Activation buffers reused across steps.
struct ForwardScratch {
  std::vector<float> x, h, q, k, v, attn, gate, up;
};

// Runs every layer for `tokens` (rows[t] gives token t's position and block table), writes their K/V, and returns
// the logits [logit_rows.size(), vocab] of the rows listed in `logit_rows`.
void MistralForward(const CpuModel& model, const std::vector<TokenRow>& rows, const std::vector<int32_t>& tokens,
                    const std::vector<int>& logit_rows, KvPools& kv, ThreadPool& pool, ForwardScratch& s,
                    std::vector<float>* logits);

}  // namespace inference
