// The paged KV cache path: decoding token by token equals one full prefill, chunked prefill equals one prefill,
// scattered block tables and mixed batches change nothing, thread count changes nothing, and the sliding window
// (transformers' rule, inference::Attends) is exact at W-1, W and W+1.
#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "inference/engine/kv_layout.h"
#include "tests/unit/cpu/cpu_test_util.h"

namespace inference {
namespace {

using testing::Blocks;
using testing::One;
using testing::Step;

constexpr int kWindow = 32;        // awq-tiny-mistral's sliding_window
constexpr int kPromptLen = 75;     // more than two windows' worth of blocks

std::vector<int32_t> RandomIds(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(n);
  for (int32_t& id : ids) id = 3 + static_cast<int32_t>(rng() % 31990);
  return ids;
}

std::vector<std::vector<float>> Prefill(CpuBackend& b, const std::vector<int32_t>& ids, std::vector<int32_t> table) {
  std::vector<std::vector<float>> logits;
  absl::Status st = b.ExecuteAllLogits(One(Step(ids, 0, std::move(table))), &logits);
  EXPECT_TRUE(st.ok()) << st;
  return logits;
}

class CpuPagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = testing::MakeBackend("awq-tiny-mistral", {.num_blocks = 64, .block_size = 8, .threads = 2});
    ASSERT_NE(backend_, nullptr);
    ASSERT_EQ(backend_->config().sliding_window, kWindow);
  }
  std::unique_ptr<CpuBackend> backend_;
};

// Every row of the CPU forward is computed independently of the others, so the equalities below are exact.
TEST_F(CpuPagingTest, StepByStepDecodeEqualsFullPrefill) {
  const std::vector<int32_t> ids = RandomIds(kPromptLen, 1);
  const auto full = Prefill(*backend_, ids, Blocks(0, kPromptLen, 8));
  const auto steps = testing::DecodeEach(*backend_, ids, Blocks(20, kPromptLen, 8));
  ASSERT_EQ(steps.size(), full.size());
  for (size_t p = 0; p < full.size(); ++p) EXPECT_EQ(steps[p], full[p]) << "position " << p;
}

TEST_F(CpuPagingTest, ChunkedPrefillEqualsOnePrefill) {
  const std::vector<int32_t> ids = RandomIds(kPromptLen, 2);
  const auto full = Prefill(*backend_, ids, Blocks(0, kPromptLen, 8));
  const std::vector<int32_t> table = Blocks(30, kPromptLen, 8);
  const int chunks[] = {5, 16, 1, 30, 23};  // boundaries inside and across blocks and windows
  std::vector<std::vector<float>> chunked;
  int pos = 0;
  for (int n : chunks) {
    std::vector<std::vector<float>> l;
    std::vector<int32_t> part(ids.begin() + pos, ids.begin() + pos + n);
    ASSERT_TRUE(backend_->ExecuteAllLogits(One(Step(part, pos, table)), &l).ok());
    chunked.insert(chunked.end(), l.begin(), l.end());
    pos += n;
  }
  ASSERT_EQ(pos, kPromptLen);
  for (size_t p = 0; p < full.size(); ++p) EXPECT_EQ(chunked[p], full[p]) << "position " << p;
}

TEST_F(CpuPagingTest, ScatteredBlocksAndMixedBatchChangeNothing) {
  const std::vector<int32_t> a = RandomIds(kPromptLen, 3), b = RandomIds(20, 4);
  const auto alone_a = Prefill(*backend_, a, Blocks(0, kPromptLen, 8));
  const auto alone_b = Prefill(*backend_, b, Blocks(0, 20, 8));
  // Shuffled physical blocks, two sequences in one step, only the last token's logits.
  std::vector<int32_t> pool(64);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), std::mt19937(5));
  std::vector<int32_t> ta(pool.begin(), pool.begin() + 10), tb(pool.begin() + 10, pool.begin() + 13);
  StepBatch batch;
  batch.seqs.push_back(Step(b, 0, tb));
  batch.seqs.push_back(Step(a, 0, ta));
  std::vector<std::vector<float>> last;
  ASSERT_TRUE(backend_->ExecuteLogits(batch, &last).ok());
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0], alone_b.back());
  EXPECT_EQ(last[1], alone_a.back());
}

TEST_F(CpuPagingTest, ThreadCountChangesNothing) {
  const std::vector<int32_t> ids = RandomIds(40, 6);
  std::unique_ptr<CpuBackend> one = testing::MakeBackend("awq-tiny-mistral", {.num_blocks = 8, .block_size = 8, .threads = 1});
  std::unique_ptr<CpuBackend> three = testing::MakeBackend("awq-tiny-mistral", {.num_blocks = 8, .block_size = 8, .threads = 3});
  EXPECT_EQ(Prefill(*one, ids, Blocks(0, 40, 8)), Prefill(*three, ids, Blocks(0, 40, 8)));
}

TEST(SlidingWindowTest, PredicateAtItsEdges) {
  constexpr int64_t W = kWindow, i = 100;
  EXPECT_TRUE(Attends(i, i, W));
  EXPECT_TRUE(Attends(i, i - (W - 1), W));   // W-1 back: inside
  EXPECT_FALSE(Attends(i, i - W, W));        // W back: outside (Mistral's reference is off by one here)
  EXPECT_FALSE(Attends(i, i - (W + 1), W));  // W+1 back: outside
  EXPECT_FALSE(Attends(i, i + 1, W));        // never the future
  EXPECT_TRUE(Attends(i, 0, 0));             // no window
}

// With one token per block, a query at position q needs exactly the blocks of positions q-W+1..q. Recycling the
// block of position q-W (kInvalidBlock) must change nothing; recycling the block of position q-W+1 is an error.
TEST(SlidingWindowTest, BackendReadsExactlyTheWindow) {
  std::unique_ptr<CpuBackend> b = testing::MakeBackend("awq-tiny-mistral", {.num_blocks = 80, .block_size = 1, .threads = 2});
  ASSERT_NE(b, nullptr);
  const std::vector<int32_t> ids = RandomIds(kWindow + 2, 7);
  const std::vector<int32_t> table = Blocks(0, kWindow + 2, 1);
  for (int q : {kWindow - 1, kWindow, kWindow + 1}) {
    SCOPED_TRACE(q);
    // Prefill positions [0, q) then decode position q with the full table ...
    std::vector<std::vector<float>> l;
    std::vector<int32_t> prefix(ids.begin(), ids.begin() + q);
    ASSERT_TRUE(b->ExecuteLogits(One(Step(prefix, 0, table)), &l).ok());
    std::vector<std::vector<float>> full;
    ASSERT_TRUE(b->ExecuteLogits(One(Step({ids[q]}, q, table)), &full).ok());
    // ... and with the blocks outside the window recycled.
    std::vector<int32_t> recycled = table;
    for (int j = 0; j <= q - kWindow; ++j) recycled[j] = kInvalidBlock;
    std::vector<std::vector<float>> windowed;
    ASSERT_TRUE(b->ExecuteLogits(One(Step({ids[q]}, q, recycled)), &windowed).ok());
    EXPECT_EQ(windowed, full);
    // The oldest position inside the window is needed.
    recycled[q - kWindow + 1] = kInvalidBlock;
    absl::Status st = b->ExecuteLogits(One(Step({ids[q]}, q, recycled)), &windowed);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(st.message(), "is not a block of the pool")) << st;
  }
}

// The window takes effect exactly at position W: the same model without a window gives identical logits at
// positions 0..W-1 (every key is inside the window there) and different ones from position W on.
TEST(SlidingWindowTest, WindowStartsToMatterAtPositionW) {
  absl::StatusOr<ModelWeights> w = LoadModelWeights(testing::SharedAsset("awq-tiny-mistral"));
  ASSERT_TRUE(w.ok()) << w.status();
  auto windowed = CreateCpuBackend(*w, {.num_blocks = 16, .block_size = 8, .threads = 2});
  w->config.sliding_window = 0;
  auto unwindowed = CreateCpuBackend(*w, {.num_blocks = 16, .block_size = 8, .threads = 2});
  ASSERT_TRUE(windowed.ok() && unwindowed.ok());
  const std::vector<int32_t> ids = RandomIds(kWindow + 3, 8);
  const auto a = Prefill(**windowed, ids, Blocks(0, kWindow + 3, 8));
  const auto b = Prefill(**unwindowed, ids, Blocks(0, kWindow + 3, 8));
  ASSERT_EQ(a.size(), b.size());
  for (int p = 0; p < kWindow; ++p) EXPECT_EQ(a[p], b[p]) << "position " << p;
  for (int p = kWindow; p < kWindow + 3; ++p) EXPECT_NE(a[p], b[p]) << "position " << p;
}

TEST(CpuBackendTest, RejectsBadBatches) {
  std::unique_ptr<CpuBackend> b = testing::MakeBackend("tiny-stories-awq", {.num_blocks = 4, .block_size = 16, .threads = 1});
  ASSERT_NE(b, nullptr);
  std::vector<std::vector<float>> l;
  struct Case { SeqStep step; const char* message; };
  const Case cases[] = {
      {Step({1, 512}, 0, {0}), "token id 512 is outside the vocabulary [0, 512)"},
      {Step({1, 2}, 15, {0}), "block_table has 1 blocks but position 16 needs 2"},
      {Step({1}, 0, {4}), "block_table[0] = 4 is not a block of the pool [0, 4)"},
      {Step({1}, 512, {0}), "positions up to 513 exceed the model's context of 512"},
      {Step({}, 0, {0}), "no tokens"},
  };
  for (const Case& c : cases) {
    absl::Status st = b->ExecuteLogits(One(c.step), &l);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_TRUE(absl::StrContains(st.message(), c.message)) << st;
  }
  SeqStep no_params = Step({1}, 0, {0});
  StepResult r;
  EXPECT_EQ(b->Execute(One(no_params), &r).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CpuBackendTest, RefusesAModelLargerThanTheMemoryLimit) {
  absl::StatusOr<ModelWeights> w = LoadModelWeights(testing::SharedAsset("awq-tiny-mistral"));
  ASSERT_TRUE(w.ok()) << w.status();
  CpuBackendOptions o{.num_blocks = 16, .block_size = 16, .threads = 1};
  // 2 * 32000 * 128 embedding/lm_head + 129 norm + 2 layers * (2*128 + 128*128 + 2*128*64 + 128*128 + 3*128*384),
  // plus K and V: 2 * 2 layers * 16 blocks * 16 slots * 64.
  const size_t expected = (2u * 32000 * 128 + 128 + 2 * (2 * 128 + 128 * 128 + 2 * 128 * 64 + 128 * 128 + 3 * 128 * 384) +
                           2u * 2 * 16 * 16 * 64) * 4;
  EXPECT_EQ(CpuBackendMemoryBytes(w->config, o), expected);
  o.max_memory_bytes = expected - 1;
  absl::StatusOr<std::unique_ptr<CpuBackend>> b = CreateCpuBackend(*w, o);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(b.status().message(), "needs 0.03 GiB")) << b.status();
  o.max_memory_bytes = expected;
  EXPECT_TRUE(CreateCpuBackend(*w, o).ok());
}

}  // namespace
}  // namespace inference
