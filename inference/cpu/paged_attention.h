// Attention over the paged KV cache (engine/kv_layout.h) for the CPU backend: writing the batch's new K/V rows
// into their blocks, and grouped-query attention of each new token over its sequence's cached keys, restricted
// by the one window predicate inference::Attends (query i sees key j iff i - W < j <= i).
//
// Thread-safety: WriteKv mutates the pools (engine thread); PagedAttention reads them, parallel over
// (token, head). Block tables must cover every position written or attended (the backend validates).
//
//   WriteKv(layout, k_pool, v_pool, rows, k, v);
//   PagedAttention(pool, params, rows, q, out);
#pragma once

#include <cstdint>
#include <vector>

#include "inference/cpu/thread_pool.h"
#include "inference/engine/kv_layout.h"

namespace inference {

// One new token of the batch: its position and its sequence's block table.
struct TokenRow {
  int32_t position = 0;
  const std::vector<int32_t>* block_table = nullptr;
};

// Stores k, v [rows, num_kv_heads * head_dim] at each row's (block, slot) in one layer's pools.
void WriteKv(const KvLayout& layout, float* k_pool, float* v_pool, const std::vector<TokenRow>& rows, const float* k,
             const float* v);

struct PagedAttentionParams {
  const KvLayout* layout = nullptr;
  const float* k_pool = nullptr;  // one layer
  const float* v_pool = nullptr;
  int num_heads = 0;              // query heads; head h reads kv head h / (num_heads / num_kv_heads)
  int window = 0;                 // 0: none
};

// out[t, h] = softmax_j(q[t, h] · k[j] / sqrt(head_dim)) · v[j] over the cached positions j the row attends to.
void PagedAttention(ThreadPool& pool, const PagedAttentionParams& p, const std::vector<TokenRow>& rows, const float* q,
                    float* out);

}  // namespace inference
