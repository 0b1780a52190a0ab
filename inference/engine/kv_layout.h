// The paged KV cache's memory layout, shared by every backend. The bookkeeping (which block belongs to whom) is
// the engine's KvCache; this header only says where the numbers of one token live. Plain data.
//
// For each layer there is one K pool and one V pool, each [num_blocks][block_size][num_kv_heads][head_dim]
// elements. A sequence's token at position p lives in physical block block_table[p / block_size], slot
// p % block_size. With a sliding window the engine may recycle blocks wholly outside the window: their
// block_table entries are then kInvalidBlock and must never be read (the window predicate guarantees that).
#pragma once

#include <cstddef>
#include <cstdint>

namespace inference {

inline constexpr int32_t kInvalidBlock = -1;

struct KvLayout {
  int num_layers = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int block_size = 16;   // tokens per block
  int num_blocks = 0;    // per layer pool

  size_t token_stride() const { return static_cast<size_t>(num_kv_heads) * head_dim; }
  size_t block_stride() const { return token_stride() * block_size; }
  size_t pool_elements() const { return block_stride() * num_blocks; }
  // Offset (in elements) of (block, slot, head, 0) inside one layer's pool.
  size_t Offset(int32_t block, int slot, int head) const {
    return static_cast<size_t>(block) * block_stride() + static_cast<size_t>(slot) * token_stride() +
           static_cast<size_t>(head) * head_dim;
  }
};

// The sliding-window rule (transformers'): query position i attends to key position j iff i - W < j <= i.
// window == 0 means no window. The one place this contract lives; every backend calls it or mirrors it.
constexpr bool Attends(int64_t i, int64_t j, int64_t window) {
  return j <= i && (window <= 0 || j > i - window);
}

}  // namespace inference
