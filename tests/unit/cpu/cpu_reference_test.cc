// The CPU backend against references: Hugging Face transformers' float32 logits and greedy ids for
// awq-tiny-mistral (sliding window 32, prompts of 15, 70 and 79 tokens), and the greedy stories of tiny-stories-awq.
#include <algorithm>
#include <cmath>

#include "base/file.h"
#include "gtest/gtest.h"
#include "tests/unit/cpu/cpu_test_util.h"

namespace inference {
namespace {

using testing::Blocks;
using testing::RelErr;

constexpr double kRelTol = 1e-4;  // float32 against float32: summation order only

struct Prompt {
  std::vector<int32_t> ids;
  std::vector<std::vector<int32_t>> top5_ids;
  std::vector<std::vector<float>> top5_logits;
  std::vector<float> last_logits;
  std::vector<int32_t> greedy_ids;
};

std::vector<Prompt> LoadReference() {
  absl::StatusOr<base::Json> j = base::ReadJsonFile(testing::SharedAsset("awq-tiny-mistral/reference.json"));
  EXPECT_TRUE(j.ok()) << j.status();
  std::vector<Prompt> out;
  if (!j.ok()) return out;
  for (const base::Json& p : j->Get("prompts").items()) {
    Prompt r;
    for (const base::Json& x : p.Get("ids").items()) r.ids.push_back(static_cast<int32_t>(x.AsInt()));
    for (const base::Json& row : p.Get("top5_ids").items()) {
      r.top5_ids.emplace_back();
      for (const base::Json& x : row.items()) r.top5_ids.back().push_back(static_cast<int32_t>(x.AsInt()));
    }
    for (const base::Json& row : p.Get("top5_logits").items()) {
      r.top5_logits.emplace_back();
      for (const base::Json& x : row.items()) r.top5_logits.back().push_back(static_cast<float>(x.AsDouble()));
    }
    for (const base::Json& x : p.Get("last_logits").items()) r.last_logits.push_back(static_cast<float>(x.AsDouble()));
    for (const base::Json& x : p.Get("greedy_ids").items()) r.greedy_ids.push_back(static_cast<int32_t>(x.AsInt()));
    out.push_back(std::move(r));
  }
  return out;
}

// Our logits at the reference's top-5 ids of every position, and the argmax wherever the reference's top two are
// apart by more than the tolerance.
void ExpectMatchesTop5(const Prompt& ref, const std::vector<std::vector<float>>& logits) {
  ASSERT_EQ(logits.size(), ref.ids.size());
  for (size_t p = 0; p < logits.size(); ++p) {
    const float scale = std::abs(ref.top5_logits[p][0]);
    for (int k = 0; k < 5; ++k) {
      EXPECT_NEAR(logits[p][ref.top5_ids[p][k]], ref.top5_logits[p][k], kRelTol * scale)
          << "position " << p << " rank " << k << " of prompt length " << ref.ids.size();
    }
    if (ref.top5_logits[p][0] - ref.top5_logits[p][1] > 2 * kRelTol * scale) {
      const int argmax = static_cast<int>(std::max_element(logits[p].begin(), logits[p].end()) - logits[p].begin());
      EXPECT_EQ(argmax, ref.top5_ids[p][0]) << "position " << p;
    }
  }
  EXPECT_LE(RelErr(logits.back(), ref.last_logits), kRelTol) << "last position, prompt length " << ref.ids.size();
}

class AwqTinyMistralTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ref_ = new std::vector<Prompt>(LoadReference()); }
  static void TearDownTestSuite() { delete ref_; }
  void SetUp() override {
    ASSERT_EQ(ref_->size(), 3u);
    backend_ = testing::MakeBackend("awq-tiny-mistral", {.num_blocks = 64, .block_size = 16, .threads = 2});
    ASSERT_NE(backend_, nullptr);
  }
  static std::vector<Prompt>* ref_;
  std::unique_ptr<CpuBackend> backend_;
};
std::vector<Prompt>* AwqTinyMistralTest::ref_ = nullptr;

TEST_F(AwqTinyMistralTest, PrefillLogitsMatchTransformersAtEveryPosition) {
  for (const Prompt& ref : *ref_) {
    std::vector<std::vector<float>> logits;
    const int n = static_cast<int>(ref.ids.size());
    ASSERT_TRUE(backend_->ExecuteAllLogits(testing::One(testing::Step(ref.ids, 0, Blocks(0, n, 16))), &logits).ok());
    ExpectMatchesTop5(ref, logits);
  }
}

TEST_F(AwqTinyMistralTest, DecodeLogitsMatchTransformersAtEveryPosition) {
  for (const Prompt& ref : *ref_) {
    const int n = static_cast<int>(ref.ids.size());
    ExpectMatchesTop5(ref, testing::DecodeEach(*backend_, ref.ids, Blocks(0, n, 16)));
  }
}

TEST_F(AwqTinyMistralTest, GreedyIdsMatchTransformers) {
  for (const Prompt& ref : *ref_) {
    EXPECT_EQ(testing::Greedy(*backend_, ref.ids, static_cast<int>(ref.greedy_ids.size())), ref.greedy_ids)
        << "prompt length " << ref.ids.size();
  }
}

TEST(TinyStoriesAwqTest, GreedyIdsOfAllFivePrompts) {
  absl::StatusOr<base::Json> j = base::ReadJsonFile(testing::SharedAsset("tiny-stories-awq/reference.json"));
  ASSERT_TRUE(j.ok()) << j.status();
  std::unique_ptr<CpuBackend> backend = testing::MakeBackend("tiny-stories-awq", {.num_blocks = 32, .threads = 2});
  ASSERT_NE(backend, nullptr);
  std::vector<int32_t> stop;
  for (const base::Json& x : j->Get("stop_ids").items()) stop.push_back(static_cast<int32_t>(x.AsInt()));
  ASSERT_EQ(j->Get("cases").size(), 5u);
  for (const base::Json& c : j->Get("cases").items()) {
    std::vector<int32_t> prompt, expected;
    for (const base::Json& x : c.Get("prompt_ids").items()) prompt.push_back(static_cast<int32_t>(x.AsInt()));
    for (const base::Json& x : c.Get("greedy_ids").items()) expected.push_back(static_cast<int32_t>(x.AsInt()));
    EXPECT_EQ(testing::Greedy(*backend, prompt, static_cast<int>(expected.size()), stop), expected)
        << "prompt '" << c.Get("prompt").AsString() << "'";
  }
}

}  // namespace
}  // namespace inference
