// Attention over the paged KV cache (kv_layout.h), for decode and prefill alike: every query token attends to
// the keys of its own sequence at positions j with Attends(pos, j, window) (kv_layout.h), which this step's
// RopeKv already wrote to the cache. Grouped-query: one CTA serves the heads/kv_heads query heads that share a
// KV head. The key range is split across `splits` CTAs and the warps inside each (flash-decoding); a second
// kernel combines the partial softmaxes. Kernels know nothing of requests; launchers never allocate.
//
// Thread-safety: launchers are reentrant.
//
//   PagedAttentionParams ap{...};
//   ap.splits = PagedAttentionSplits(tokens, kv_heads, sm_count);
//   RETURN_IF_ERROR(ValidatePagedAttention(ap));   // workspace >= PagedAttentionWorkspaceBytes(...)
//   LaunchPagedAttention(ap, stream);
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

inline constexpr int kAttentionWarps = 4;       // key-parallel warps per CTA
inline constexpr int kAttentionMaxGroup = 8;    // query heads per KV head
inline constexpr int kAttentionMaxSplits = 32;

struct PagedAttentionParams {
  const __half* q = nullptr;             // token t, head h at q + t * ldq + h * head_dim (RoPE applied)
  int64_t ldq = 0;
  const __half* k_cache = nullptr;       // one layer's pool [blocks][block_size][kv_heads][head_dim]
  const __half* v_cache = nullptr;
  const int32_t* block_tables = nullptr; // [seqs][max_blocks]
  int max_blocks = 0;
  int block_size = 0;
  const int32_t* query_seq = nullptr;    // [tokens] row of block_tables
  const int32_t* query_pos = nullptr;    // [tokens] position of the query (keys 0..pos are cached)
  int tokens = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int window = 0;                        // 0: none
  float scale = 0;                       // 1/sqrt(head_dim)
  int splits = 1;                        // CTAs per (token, kv head) along the keys
  float* workspace = nullptr;            // PagedAttentionWorkspaceBytes
  __half* out = nullptr;                 // [tokens][heads * head_dim]
};

// Enough CTAs to fill the chip twice for small batches, one split for large ones.
int PagedAttentionSplits(int tokens, int kv_heads, int sm_count);
size_t PagedAttentionWorkspaceBytes(int tokens, int heads, int head_dim, int splits);
[[nodiscard]] absl::Status ValidatePagedAttention(const PagedAttentionParams& p);
void LaunchPagedAttention(const PagedAttentionParams& p, cudaStream_t stream);

}  // namespace inference::cuda
