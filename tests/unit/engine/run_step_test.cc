// RunStep: the batch handed to the backend (tokens, positions, block tables, sampling state), the KV commit, and
// errors from the backend.
#include "inference/engine/run_step.h"

#include "gtest/gtest.h"
#include "stage_test_util.h"
#include "token_pool_backend.h"

namespace inference {
namespace {

using testing::MakeSeq;
using testing::TokenPoolBackend;

TEST(RunStep, BuildsTheBatchFromThePlanAndCommitsTheKv) {
  KvCache kv(16, 4, 0);
  SeqPtr a = MakeSeq(1, 6);
  SeqPtr b = MakeSeq(2, 3);
  StepPlan plan;
  plan.items = {{a.get(), 0, 5, false}, {b.get(), 0, 3, true}};
  absl::StatusOr<KvPlan> kv_plan = kv.Plan({{1, 0, 5}, {2, 0, 3}});
  ASSERT_TRUE(kv_plan.ok());
  plan.kv = *kv_plan;
  TokenPoolBackend backend(16, 4, 0, 50);
  StepResult result;
  ASSERT_TRUE(RunStep(backend, kv, plan, &result).ok());
  EXPECT_EQ(kv.BlockTable(1), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(kv.BlockTable(2), (std::vector<int32_t>{2}));
  ASSERT_EQ(backend.batches.size(), 1u);
  const StepBatch& batch = backend.batches[0];
  ASSERT_EQ(batch.seqs.size(), 2u);
  EXPECT_EQ(batch.seqs[0].tokens, (std::vector<int32_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(batch.seqs[0].start_pos, 0);
  EXPECT_EQ(batch.seqs[0].block_table, (std::vector<int32_t>{0, 1}));
  EXPECT_FALSE(batch.seqs[0].sample);
  EXPECT_EQ(batch.seqs[0].sampler_state, nullptr);
  EXPECT_TRUE(batch.seqs[1].sample);
  EXPECT_EQ(batch.seqs[1].sampling, &b->request.sampling);
  EXPECT_EQ(batch.seqs[1].sampler_state, &b->sampler);
  EXPECT_EQ(batch.total_tokens(), 8);
  ASSERT_EQ(result.tokens.size(), 2u);
  EXPECT_EQ(result.tokens[0].id, -1);
  EXPECT_EQ(result.tokens[1].id, testing::NextTokenReference({3, 4, 5}, 0, 50));
}

TEST(RunStep, ADecodeSeesOnlyTheBlocksItsPositionsNeed) {
  KvCache kv(16, 4, 0);
  SeqPtr a = MakeSeq(1, 5);
  ASSERT_TRUE(kv.Plan({{1, 0, 9}}).ok());
  kv.Commit(*kv.Plan({{1, 0, 9}}));  // 3 blocks reserved for 9 known tokens
  a->num_cached = 4;
  StepPlan plan;
  plan.items = {{a.get(), 4, 1, true}};
  plan.kv = *kv.Plan({{1, 4, 5}});
  StepBatch batch = BuildBatch(plan, kv);
  EXPECT_EQ(batch.seqs[0].tokens, (std::vector<int32_t>{7}));
  EXPECT_EQ(batch.seqs[0].start_pos, 4);
  EXPECT_EQ(batch.seqs[0].block_table.size(), 2u);  // positions 0..4
}

TEST(RunStep, BackendErrorsPropagate) {
  KvCache kv(16, 4, 0);
  SeqPtr a = MakeSeq(1, 3);
  StepPlan plan;
  plan.items = {{a.get(), 0, 3, true}};
  plan.kv = *kv.Plan({{1, 0, 3}});
  TokenPoolBackend backend(16, 4, 0, 50);
  backend.fail_next = true;
  StepResult result;
  absl::Status s = RunStep(backend, kv, plan, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("injected"), std::string::npos);
}

class ShortResultBackend : public TokenPoolBackend {
 public:
  using TokenPoolBackend::TokenPoolBackend;
  absl::Status Execute(const StepBatch& batch, StepResult* result) override {
    result->tokens.clear();
    return absl::OkStatus();
  }
};

TEST(RunStep, AResultOfTheWrongSizeIsAnInternalError) {
  KvCache kv(16, 4, 0);
  SeqPtr a = MakeSeq(1, 3);
  StepPlan plan;
  plan.items = {{a.get(), 0, 3, true}};
  plan.kv = *kv.Plan({{1, 0, 3}});
  ShortResultBackend backend(16, 4, 0, 50);
  StepResult result;
  absl::Status s = RunStep(backend, kv, plan, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("returned 0 results for a batch of 1"), std::string::npos) << s;
}

}  // namespace
}  // namespace inference
