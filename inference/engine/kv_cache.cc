#include "inference/engine/kv_cache.h"

#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/engine/kv_layout.h"

namespace inference {

KvCache::KvCache(int32_t num_blocks, int32_t block_size, int32_t window)
    : num_blocks_(num_blocks), block_size_(block_size), window_(window) {
  AWQ_CHECK(num_blocks >= 0 && block_size > 0 && window >= 0);
  free_.reserve(num_blocks);
  // Block 0 is handed out first: allocation order is a pure function of the history of calls.
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

std::vector<int32_t> KvCache::Recyclable(const Table& t, int32_t start_pos) const {
  std::vector<int32_t> out;
  if (window_ <= 0) return out;
  for (int32_t lb = t.first_live; lb < static_cast<int32_t>(t.blocks.size()); ++lb) {
    const int64_t last_pos = static_cast<int64_t>(lb + 1) * block_size_ - 1;
    // Every later query i >= start_pos attends to fewer old keys than start_pos does, so checking start_pos
    // against the block's newest position decides for the whole block and all future steps.
    if (last_pos >= start_pos || Attends(start_pos, last_pos, window_)) break;
    out.push_back(lb);
  }
  return out;
}

absl::StatusOr<KvPlan> KvCache::Plan(const std::vector<KvGrow>& grows) const {
  KvPlan plan;
  plan.version = version_;
  std::unordered_set<SeqId> seen;
  static const Table kEmpty;
  for (const KvGrow& g : grows) {
    if (!seen.insert(g.seq).second) {
      return absl::InvalidArgumentError(absl::StrCat("KV plan: sequence ", g.seq, " appears twice in one step"));
    }
    if (g.start_pos < 0 || g.end_pos < g.start_pos) {
      return absl::InvalidArgumentError(absl::StrCat("KV plan: sequence ", g.seq, " grows from ", g.start_pos,
                                                     " to ", g.end_pos, " (need 0 <= start_pos <= end_pos)"));
    }
    const auto it = tables_.find(g.seq);
    if (it == tables_.end() && g.start_pos != 0) {
      return absl::InvalidArgumentError(absl::StrCat("KV plan: new sequence ", g.seq, " starts at position ",
                                                     g.start_pos, ", not 0"));
    }
    const Table& t = it == tables_.end() ? kEmpty : it->second;
    KvPlan::Item item;
    item.seq = g.seq;
    item.release = Recyclable(t, g.start_pos);
    item.new_blocks = std::max<int32_t>(0, BlocksFor(g.end_pos) - static_cast<int32_t>(t.blocks.size()));
    plan.blocks_taken += item.new_blocks;
    plan.blocks_released += static_cast<int32_t>(item.release.size());
    plan.items.push_back(std::move(item));
  }
  const int64_t available = static_cast<int64_t>(free_.size()) + plan.blocks_released;
  if (plan.blocks_taken > available) {
    return absl::ResourceExhaustedError(absl::StrCat("KV cache full: the step needs ", plan.blocks_taken,
                                                     " new blocks but ", free_.size(), " are free and ",
                                                     plan.blocks_released, " would be recycled (of ",
                                                     num_blocks_, " blocks)"));
  }
  return plan;
}

void KvCache::Commit(const KvPlan& plan) {
  AWQ_CHECK(plan.version == version_);
  ++version_;
  // Recycle first, so this step's new blocks may reuse them.
  for (const KvPlan::Item& item : plan.items) {
    auto it = tables_.find(item.seq);
    if (it == tables_.end()) continue;
    for (int32_t lb : item.release) {
      AWQ_CHECK(lb == it->second.first_live && it->second.blocks[lb] != kInvalidBlock);
      free_.push_back(it->second.blocks[lb]);
      it->second.blocks[lb] = kInvalidBlock;
      ++it->second.first_live;
    }
  }
  for (const KvPlan::Item& item : plan.items) {
    Table& t = tables_[item.seq];
    for (int32_t n = 0; n < item.new_blocks; ++n) {
      AWQ_CHECK(!free_.empty());
      t.blocks.push_back(free_.back());
      free_.pop_back();
    }
  }
}

void KvCache::Free(SeqId seq) {
  auto it = tables_.find(seq);
  if (it == tables_.end()) return;
  ++version_;
  for (int32_t b : it->second.blocks) {
    if (b != kInvalidBlock) free_.push_back(b);
  }
  tables_.erase(it);
}

const std::vector<int32_t>& KvCache::BlockTable(SeqId seq) const {
  static const std::vector<int32_t> kNone;
  const auto it = tables_.find(seq);
  return it == tables_.end() ? kNone : it->second.blocks;
}

int32_t KvCache::LiveBlocks(SeqId seq) const {
  const auto it = tables_.find(seq);
  if (it == tables_.end()) return 0;
  return static_cast<int32_t>(it->second.blocks.size()) - it->second.first_live;
}

double KvCache::Usage() const {
  if (num_blocks_ == 0) return 0.0;
  return static_cast<double>(num_blocks_ - static_cast<int32_t>(free_.size())) / num_blocks_;
}

}  // namespace inference
