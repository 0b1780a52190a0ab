// The paged KV cache's bookkeeping: a block allocator and one block table per sequence, as plain host data (the
// K/V numbers live in the backend's pools, laid out by kv_layout.h). Changes are transactions: Plan a whole step
// without side effects (it fails whole, changing nothing), then Commit it; Free returns a sequence's blocks.
//
// Sliding window (window > 0): when a step's first new position is i, no query of this or any later step reads a
// key j with !Attends(i, j, window) (kv_layout.h), so blocks whose every position is such a j are recycled by
// that step's Commit: their table entries become kInvalidBlock and the blocks return to the free list (another
// sequence may receive them in the same step; the owner never reads them again).
//
// Thread-safety: none; owned and used by the engine thread only.
//
//   KvCache kv(/*num_blocks=*/1024, /*block_size=*/16, /*window=*/4096);
//   ASSIGN_OR_RETURN(KvPlan plan, kv.Plan({{seq, /*start_pos=*/0, /*end_pos=*/prompt_len}}));
//   kv.Commit(plan);                          // seq's table now covers positions [0, prompt_len)
//   const std::vector<int32_t>& table = kv.BlockTable(seq);
//   kv.Free(seq);                             // every block back to the free list
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"

namespace inference {

using SeqId = int64_t;

// One sequence's part of a step: positions [start_pos, end_pos) are written this step; afterwards positions
// [0, end_pos) must be backed by blocks (those outside the window excepted). start_pos == 0 for a new sequence.
struct KvGrow {
  SeqId seq = 0;
  int32_t start_pos = 0;
  int32_t end_pos = 0;
};

// What Commit will do; valid only for the cache state it was planned on (Commit checks).
struct KvPlan {
  struct Item {
    SeqId seq = 0;
    std::vector<int32_t> release;  // logical block indices leaving the window
    int32_t new_blocks = 0;        // logical blocks appended to the table
  };
  std::vector<Item> items;
  int32_t blocks_taken = 0;     // new blocks in all
  int32_t blocks_released = 0;  // recycled blocks in all
  uint64_t version = 0;         // the cache's version when planned
};

class KvCache {
 public:
  // window 0: no sliding window.
  KvCache(int32_t num_blocks, int32_t block_size, int32_t window);

  // Checks that the step fits: RESOURCE_EXHAUSTED (with the numbers) when the free blocks plus the blocks this
  // step recycles are too few; INVALID_ARGUMENT for malformed grows (a sequence twice, end before start, a new
  // sequence not starting at 0). Changes nothing.
  [[nodiscard]] absl::StatusOr<KvPlan> Plan(const std::vector<KvGrow>& grows) const;
  // Applies a plan made on the current state (an internal invariant: no change in between).
  void Commit(const KvPlan& plan);
  // Returns every live block of `seq` to the free list; a no-op for an unknown sequence.
  void Free(SeqId seq);

  bool Has(SeqId seq) const { return tables_.count(seq) != 0; }
  // Physical block of each logical block; kInvalidBlock where recycled. Empty for an unknown sequence.
  const std::vector<int32_t>& BlockTable(SeqId seq) const;
  // Live (not recycled) blocks held by `seq`.
  int32_t LiveBlocks(SeqId seq) const;

  int32_t BlocksFor(int64_t tokens) const { return static_cast<int32_t>((tokens + block_size_ - 1) / block_size_); }
  int32_t num_blocks() const { return num_blocks_; }
  int32_t num_free_blocks() const { return static_cast<int32_t>(free_.size()); }
  int32_t block_size() const { return block_size_; }
  int32_t window() const { return window_; }
  // Fraction of blocks in use, in [0, 1] (vLLM's kv_cache_usage_perc).
  double Usage() const;

 private:
  struct Table {
    std::vector<int32_t> blocks;
    int32_t first_live = 0;  // blocks before this index are recycled
  };
  // Logical blocks of `t` that a step starting at `start_pos` recycles.
  std::vector<int32_t> Recyclable(const Table& t, int32_t start_pos) const;

  int32_t num_blocks_;
  int32_t block_size_;
  int32_t window_;
  std::vector<int32_t> free_;  // a stack: the back is handed out next
  std::unordered_map<SeqId, Table> tables_;
  uint64_t version_ = 0;
};

}  // namespace inference
