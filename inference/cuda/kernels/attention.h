// Attention over the paged KV cache (kv_layout.h), for decode and prefill alike: every query token attends to
// the keys of its own sequence at positions j with Attends(pos, j, window) (kv_layout.h), which this step's
// RopeKv already wrote to the cache. Kernels know nothing of requests; launchers never allocate.
//
// Paged (decode) attention: one CTA per (worker, KV head, query) serves all heads/kv_heads query heads sharing the
// KV head, so each K/V byte is read once; head_dim 64 and 128 on the tensor cores (mma.sync, K/V straight from the
// cache into fragment registers), 8..32 on the CUDA cores. A query's keys are cut into splits by PagedAttentionKeySplits, a function
// of its key count alone; `splits` CTAs (workers) share a query's splits, and the partial softmaxes are folded in
// split order, so a query's output is bit-identical whatever else is in the launch and whatever `splits` is.
// The workspace holds the partials and one arrival counter per (query, KV head): zero it once after allocating
// (cudaMemset); every launch leaves the counters zero again.
//
// Thread-safety: launchers are reentrant; launches sharing a workspace must be ordered (one stream).
//
//   PagedAttentionParams ap{...};
//   ap.splits = PagedAttentionSplits(tokens, kv_heads, sm_count);
//   RETURN_IF_ERROR(ValidatePagedAttention(ap));   // workspace >= PagedAttentionWorkspaceBytes(...), zeroed once
//   LaunchPagedAttention(ap, stream);
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

inline constexpr int kAttentionWarps = 4;       // key-parallel warps per CTA
inline constexpr int kAttentionMaxGroup = 8;    // query heads per KV head
// Keys per split: one round of loads of a CTA at head_dim 128 (4 warps x 4 rows of 8 lanes x 4 keys in flight),
// so a split is one wait for memory; at 512 keys a query gets 8 splits per KV head (64 CTAs at batch 1, 8 KV heads).
inline constexpr int kAttentionSplitKeys = 64;
// Splits of one query's keys (and workers per (query, KV head)): 32 x 64 keys cover 2048 keys with one round each;
// longer ranges use multiples of kAttentionSplitKeys per split, so the partial records stay bounded.
inline constexpr int kAttentionMaxSplits = 32;

// How one query's attended keys (`keys` consecutive positions from its first attended one) are split: `keys` keys
// per split (the last may hold fewer), `count` splits. Depends on the key count alone (batch invariance).
struct AttentionKeySplits {
  int keys;
  int count;  // 1..kAttentionMaxSplits
};
__host__ __device__ constexpr AttentionKeySplits PagedAttentionKeySplits(int keys) {
  const int n = keys > 1 ? keys : 1;
  const int span = kAttentionSplitKeys * kAttentionMaxSplits;
  const int per = kAttentionSplitKeys * ((n + span - 1) / span);
  return {per, (n + per - 1) / per};
}

struct PagedAttentionParams {
  const __half* q = nullptr;             // token t, head h at q + t * ldq + h * head_dim (RoPE applied)
  int64_t ldq = 0;
  const __half* k_cache = nullptr;       // one layer's pool [blocks][block_size][kv_heads][head_dim]
  const __half* v_cache = nullptr;
  const int32_t* block_tables = nullptr; // [seqs][max_blocks]
  int max_blocks = 0;
  int block_size = 0;
  const int32_t* rows = nullptr;         // [tokens] the query rows to process, or null: rows 0..tokens-1
  const int32_t* query_seq = nullptr;    // [row] row of block_tables
  const int32_t* query_pos = nullptr;    // [row] position of the query (keys 0..pos are cached)
  int tokens = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int window = 0;                        // 0: none
  float scale = 0;                       // 1/sqrt(head_dim)
  int splits = 1;                        // workers (CTAs) per (token, kv head): parallelism only, never the arithmetic
  float* workspace = nullptr;            // PagedAttentionWorkspaceBytes, zeroed once; may be null when splits == 1
  __half* out = nullptr;                 // [row][heads * head_dim]
  // Every query's keys before its position, and the step's metadata (positions, rows, block tables), were written
  // before the kernel preceding this launch started (decode rows: earlier steps wrote them). The tensor-core kernel
  // then loads its first keys before PdlWait, while that kernel (RopeKv) runs, and the query's own key after it.
  bool keys_cached = false;
};

// Workers per (token, KV head): the most whose CTAs fit in one wave of about 4 resident CTAs on every SM (at least
// one, which then takes all of its query's splits in order; at most kAttentionMaxSplits).
int PagedAttentionSplits(int tokens, int kv_heads, int sm_count);
// Partial records and arrival counters for `tokens` queries; 0 when splits == 1 (one worker needs none).
size_t PagedAttentionWorkspaceBytes(int tokens, int heads, int head_dim, int splits);
[[nodiscard]] absl::Status ValidatePagedAttention(const PagedAttentionParams& p);
void LaunchPagedAttention(const PagedAttentionParams& p, cudaStream_t stream);

// Prefill attention, flash-style on the tensor cores: one CTA per (tile of consecutive query tokens of one
// sequence, FlashHeadsPerCta query heads sharing one KV head), streaming the sequence's keys from the paged cache in
// tiles of kFlashTileK with an online softmax; causal and sliding window through Attends (kv_layout.h). A CTA holds
// kFlashTileQ (head, query) rows, so the KV tile it loads serves up to 4 heads. head_dim 32, 64 or 128.
// mma.sync tensor-core products with S, P and O in registers (attention_prefill.cu). Key tiles are aligned to
// absolute positions, so a row's result is bit-identical whatever tile, launch or chunk split it comes in.
// Tiles may start mid-sequence (chunked prefill): keys 0..pos come from the cache.
inline constexpr int kFlashTileQ = 64;
inline constexpr int kFlashTileK = 64;
__host__ __device__ constexpr int FlashHeadsPerCta(int group) { return group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1; }
// Query tokens per tile (FlashTile::count's limit) for heads/kv_heads = group.
__host__ __device__ constexpr int FlashTileRows(int group) { return kFlashTileQ / FlashHeadsPerCta(group); }
struct FlashTile {
  int32_t row0;    // first query row
  int32_t count;   // 1..FlashTileRows(heads / kv_heads) rows
  int32_t seq;     // row of block_tables
  int32_t pos0;    // position of row0
};
struct FlashPrefillParams {
  const __half* q = nullptr;             // as PagedAttentionParams
  int64_t ldq = 0;
  const __half* k_cache = nullptr;
  const __half* v_cache = nullptr;
  const int32_t* block_tables = nullptr;
  int max_blocks = 0;
  int block_size = 0;
  const FlashTile* tiles = nullptr;
  int num_tiles = 0;
  int heads = 0, kv_heads = 0, head_dim = 0;
  int window = 0;
  float scale = 0;
  __half* out = nullptr;                 // [row][heads * head_dim]
};
bool FlashPrefillSupports(int head_dim);
[[nodiscard]] absl::Status ValidateFlashPrefill(const FlashPrefillParams& p);
void LaunchFlashPrefill(const FlashPrefillParams& p, cudaStream_t stream);

}  // namespace inference::cuda
