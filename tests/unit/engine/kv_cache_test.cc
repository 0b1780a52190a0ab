// KvCache: allocation, all-or-nothing plans, free, usage, and sliding-window recycling at its edges.
#include "inference/engine/kv_cache.h"

#include "gtest/gtest.h"
#include "inference/engine/kv_layout.h"

namespace inference {
namespace {

void Grow(KvCache& kv, SeqId seq, int32_t start, int32_t end) {
  absl::StatusOr<KvPlan> plan = kv.Plan({{seq, start, end}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  kv.Commit(*plan);
}

TEST(KvCache, AllocatesBlocksCoveringThePositions) {
  KvCache kv(4, 4, 0);
  EXPECT_EQ(kv.Usage(), 0.0);
  Grow(kv, 1, 0, 5);  // positions 0..4: two blocks
  EXPECT_EQ(kv.BlockTable(1), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(kv.num_free_blocks(), 2);
  EXPECT_DOUBLE_EQ(kv.Usage(), 0.5);
  Grow(kv, 1, 5, 8);  // still two blocks
  EXPECT_EQ(kv.BlockTable(1).size(), 2u);
  Grow(kv, 1, 8, 9);  // a third
  EXPECT_EQ(kv.BlockTable(1), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(kv.LiveBlocks(1), 3);
}

TEST(KvCache, PlanHasNoSideEffectsAndFailsWhole) {
  KvCache kv(4, 4, 0);
  Grow(kv, 1, 0, 8);
  // Two free blocks; the step asks for three in all: nothing of it happens.
  absl::StatusOr<KvPlan> plan = kv.Plan({{2, 0, 8}, {3, 0, 4}});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(plan.status().message().find("needs 3 new blocks but 2 are free"), std::string::npos)
      << plan.status();
  EXPECT_FALSE(kv.Has(2));
  EXPECT_FALSE(kv.Has(3));
  EXPECT_EQ(kv.num_free_blocks(), 2);
  // A plan that fits but is not committed changes nothing either.
  ASSERT_TRUE(kv.Plan({{2, 0, 8}}).ok());
  EXPECT_FALSE(kv.Has(2));
  EXPECT_EQ(kv.num_free_blocks(), 2);
}

TEST(KvCache, FreeReturnsEveryBlock) {
  KvCache kv(8, 4, 0);
  Grow(kv, 1, 0, 10);
  Grow(kv, 2, 0, 3);
  EXPECT_EQ(kv.num_free_blocks(), 4);
  kv.Free(1);
  EXPECT_FALSE(kv.Has(1));
  EXPECT_EQ(kv.num_free_blocks(), 7);
  kv.Free(2);
  kv.Free(2);  // idempotent
  EXPECT_EQ(kv.num_free_blocks(), 8);
  EXPECT_EQ(kv.Usage(), 0.0);
}

TEST(KvCache, MalformedGrowsAreRejected) {
  KvCache kv(8, 4, 0);
  EXPECT_EQ(kv.Plan({{1, 0, 4}, {1, 0, 4}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kv.Plan({{1, 3, 2}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(kv.Plan({{1, 2, 4}}).status().code(), absl::StatusCode::kInvalidArgument);  // new, not at 0
}

TEST(KvCacheDeathTest, StalePlanIsAnInternalError) {
  KvCache kv(8, 4, 0);
  absl::StatusOr<KvPlan> plan = kv.Plan({{1, 0, 4}});
  ASSERT_TRUE(plan.ok());
  Grow(kv, 2, 0, 4);
  EXPECT_DEATH(kv.Commit(*plan), "internal invariant");
}

// Block 0 holds positions 0..3, its newest position j = 3. With window W a step starting at query i keeps the
// block while Attends(i, 3, W), i.e. i = j + W - 1 is the last start that keeps it.
class WindowEdge : public ::testing::TestWithParam<int32_t> {};

TEST_P(WindowEdge, BlockRecycledExactlyWhenItsNewestKeyLeavesTheWindow) {
  const int32_t window = GetParam();
  constexpr int32_t kBlock = 4;
  constexpr int32_t kNewest = kBlock - 1;
  for (int32_t delta : {window - 1, window, window + 1}) {
    KvCache kv(64, kBlock, window);
    const int32_t start = kNewest + delta;  // the step's first query position
    Grow(kv, 1, 0, start);
    Grow(kv, 1, start, start + 1);
    const bool recycled = kv.BlockTable(1)[0] == kInvalidBlock;
    EXPECT_EQ(recycled, !Attends(start, kNewest, window)) << "W=" << window << " i-j=" << delta;
    EXPECT_EQ(recycled, delta >= window) << "W=" << window << " i-j=" << delta;
  }
}

INSTANTIATE_TEST_SUITE_P(Windows, WindowEdge, ::testing::Values(4, 6, 8, 9));

TEST(KvCache, NoWindowNeverRecycles) {
  KvCache kv(64, 4, 0);
  Grow(kv, 1, 0, 100);
  Grow(kv, 1, 100, 101);
  for (int32_t b : kv.BlockTable(1)) EXPECT_NE(b, kInvalidBlock);
}

TEST(KvCache, DecodingUnderAWindowKeepsExactlyTheAttendedBlocks) {
  constexpr int32_t kBlock = 4;
  for (int32_t window : {5, 8, 12}) {
    KvCache kv(64, kBlock, window);
    Grow(kv, 1, 0, 3);
    for (int32_t i = 3; i < 200; ++i) {
      Grow(kv, 1, i, i + 1);
      const std::vector<int32_t>& table = kv.BlockTable(1);
      // A block is live exactly while one of its positions is attended by query i or lies in the future.
      for (int32_t b = 0; b < static_cast<int32_t>(table.size()); ++b) {
        const int32_t newest = (b + 1) * kBlock - 1;
        const bool needed = newest > i || Attends(i, newest, window);
        EXPECT_EQ(table[b] != kInvalidBlock, needed) << "i=" << i << " block=" << b << " W=" << window;
      }
    }
    EXPECT_EQ(kv.num_free_blocks() + kv.LiveBlocks(1), 64);
  }
}

TEST(KvCache, RecycledBlocksServeOtherSequencesInTheSameStep) {
  KvCache kv(3, 4, 4);
  Grow(kv, 1, 0, 8);  // blocks 0, 1
  Grow(kv, 2, 0, 4);  // block 2; none free
  EXPECT_EQ(kv.num_free_blocks(), 0);
  // Sequence 1's step at position 8 recycles block 0 (newest key 3, 8 - 3 >= 4); sequence 2 needs a new block.
  absl::StatusOr<KvPlan> plan = kv.Plan({{1, 8, 8}, {2, 4, 5}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->blocks_released, 1);
  kv.Commit(*plan);
  EXPECT_EQ(kv.BlockTable(2), (std::vector<int32_t>{2, 0}));
  EXPECT_EQ(kv.BlockTable(1)[0], kInvalidBlock);
}

}  // namespace
}  // namespace inference
