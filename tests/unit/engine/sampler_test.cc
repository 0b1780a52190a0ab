// The sampler's stages against hand-computed values, its distribution under fixed seeds, and reproducibility.
#include "inference/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "inference/engine/rng.h"

namespace inference {
namespace {

// Chi-square critical values at p = 0.001 (tables): the seeds are fixed, so a pass is deterministic, and a biased
// sampler would exceed these by orders of magnitude with 20000 draws.
constexpr double kChi2Crit1Dof = 10.83;
constexpr double kChi2Crit3Dof = 16.27;

std::vector<float> LogitsOfProbs(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

TEST(ValidateSamplingParams, DefaultsAreValid) {
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}, 100).ok());
}

TEST(ValidateSamplingParams, EachFieldNamesItsRange) {
  struct Case {
    void (*mutate)(SamplingParams&);
    const char* field;
    const char* range;
  };
  const Case cases[] = {
      {[](SamplingParams& p) { p.temperature = -0.1f; }, "sampling.temperature", "[0, 100]"},
      {[](SamplingParams& p) { p.temperature = 100.5f; }, "sampling.temperature", "[0, 100]"},
      {[](SamplingParams& p) { p.temperature = std::nanf(""); }, "sampling.temperature", "[0, 100]"},
      {[](SamplingParams& p) { p.top_k = -1; }, "sampling.top_k", "[0, 100]"},
      {[](SamplingParams& p) { p.top_k = 101; }, "sampling.top_k", "[0, 100]"},
      {[](SamplingParams& p) { p.top_p = 0.0f; }, "sampling.top_p", "(0, 1]"},
      {[](SamplingParams& p) { p.top_p = 1.01f; }, "sampling.top_p", "(0, 1]"},
      {[](SamplingParams& p) { p.min_p = -0.01f; }, "sampling.min_p", "[0, 1]"},
      {[](SamplingParams& p) { p.min_p = 1.5f; }, "sampling.min_p", "[0, 1]"},
      {[](SamplingParams& p) { p.repetition_penalty = 0.0f; }, "sampling.repetition_penalty", "(0, 2]"},
      {[](SamplingParams& p) { p.repetition_penalty = 2.5f; }, "sampling.repetition_penalty", "(0, 2]"},
      {[](SamplingParams& p) { p.presence_penalty = -2.5f; }, "sampling.presence_penalty", "[-2, 2]"},
      {[](SamplingParams& p) { p.frequency_penalty = 2.01f; }, "sampling.frequency_penalty", "[-2, 2]"},
      {[](SamplingParams& p) { p.logprobs_top_n = 21; }, "logprobs.top_n", "[0, 20]"},
      {[](SamplingParams& p) { p.logprobs_top_n = -2; }, "logprobs.top_n", "[0, 20]"},
  };
  for (const Case& c : cases) {
    SamplingParams p;
    c.mutate(p);
    absl::Status s = ValidateSamplingParams(p, 100);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(c.range), std::string::npos) << s.message();
  }
}

TEST(ValidateSamplingParams, EdgesInsideTheRangesAreValid) {
  SamplingParams p;
  p.temperature = 100.0f;
  p.top_k = 100;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.repetition_penalty = 2.0f;
  p.presence_penalty = -2.0f;
  p.frequency_penalty = 2.0f;
  p.logprobs_top_n = 20;
  EXPECT_TRUE(ValidateSamplingParams(p, 100).ok());
}

TEST(Penalties, RepetitionDividesPositiveMultipliesNegative) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  SamplerState st;
  InitSamplerState(p, {0, 1, 1}, &st);
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f};
  ApplyPenalties(p, st, logits);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f}));
}

TEST(Penalties, PresenceOnceFrequencyPerOccurrenceOutputOnly) {
  SamplingParams p;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  SamplerState st;
  InitSamplerState(p, {0, 1}, &st);  // prompt tokens: no presence/frequency penalty
  RecordToken(3, &st);
  RecordToken(3, &st);
  RecordToken(2, &st);
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f};
  ApplyPenalties(p, st, logits);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);
  EXPECT_FLOAT_EQ(logits[1], -1.0f);
  EXPECT_FLOAT_EQ(logits[2], 0.5f - 0.25f - 0.5f);
  EXPECT_FLOAT_EQ(logits[3], 3.0f - 2 * 0.25f - 0.5f);
}

TEST(Penalties, RepetitionCoversOutputTokensToo) {
  SamplingParams p;
  p.repetition_penalty = 1.5f;
  SamplerState st;
  InitSamplerState(p, {}, &st);
  RecordToken(1, &st);
  std::vector<float> logits = {3.0f, 3.0f};
  ApplyPenalties(p, st, logits);
  EXPECT_FLOAT_EQ(logits[0], 3.0f);
  EXPECT_FLOAT_EQ(logits[1], 2.0f);
}

TEST(LogSoftmax, HandComputed) {
  std::vector<float> lp = LogSoftmax({0.0f, static_cast<float>(std::log(3.0))});
  EXPECT_NEAR(lp[0], std::log(0.25), 1e-6);
  EXPECT_NEAR(lp[1], std::log(0.75), 1e-6);
}

TEST(Greedy, ArgmaxTiesGoToLowestIdAndDrawsNoRandomness) {
  SamplingParams p;
  p.temperature = 0.0f;
  SamplerState st;
  InitSamplerState(p, {}, &st);
  const uint64_t rng_before = st.rng_state;
  std::vector<float> logits = {1.0f, 5.0f, 5.0f, -2.0f};
  EXPECT_EQ(SampleToken(logits, p, &st).id, 1);
  EXPECT_EQ(st.rng_state, rng_before);
  EXPECT_EQ(st.output_counts.at(1), 1);
}

TEST(Logprobs, AfterPenaltiesAndTemperatureBeforeFiltering) {
  SamplingParams p;
  p.temperature = 0.5f;
  p.top_k = 1;  // filtering must not change the reported logprobs
  p.repetition_penalty = 2.0f;
  p.logprobs_top_n = 2;
  SamplerState st;
  InitSamplerState(p, {2}, &st);
  // After the penalty: {1, 2, 1.5}; after temperature: {2, 4, 3}. top_k = 1 leaves token 1 only.
  std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  SampledToken t = SampleToken(logits, p, &st);
  const double log_z = std::log(std::exp(2.0) + std::exp(4.0) + std::exp(3.0));
  EXPECT_EQ(t.id, 1);
  EXPECT_NEAR(t.logprob, 4.0 - log_z, 1e-5);
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].first, 1);
  EXPECT_NEAR(t.top[0].second, 4.0 - log_z, 1e-5);
  EXPECT_EQ(t.top[1].first, 2);
  EXPECT_NEAR(t.top[1].second, 3.0 - log_z, 1e-5);
}

TEST(Logprobs, GreedyReportsLogSoftmaxOfPenalizedLogits) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.logprobs_top_n = 0;
  SamplerState st;
  InitSamplerState(p, {}, &st);
  std::vector<float> logits = {0.0f, static_cast<float>(std::log(3.0))};
  SampledToken t = SampleToken(logits, p, &st);
  EXPECT_EQ(t.id, 1);
  EXPECT_NEAR(t.logprob, std::log(0.75), 1e-6);
  EXPECT_TRUE(t.top.empty());
}

TEST(Filter, TopKKeepsTheKMostLikely) {
  SamplingParams p;
  p.top_k = 2;
  auto c = FilterCandidates(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].first, 3);
  EXPECT_NEAR(c[0].second, 0.4, 1e-6);
  EXPECT_EQ(c[1].first, 2);
  EXPECT_NEAR(c[1].second, 0.3, 1e-6);
}

TEST(Filter, TopPKeepsTheSmallestPrefixReachingP) {
  SamplingParams p;
  p.top_p = 0.65f;  // 0.4 < 0.65 <= 0.4 + 0.3
  auto c = FilterCandidates(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].first, 3);
  EXPECT_EQ(c[1].first, 2);
  p.top_p = 0.35f;  // the most likely token alone reaches it
  EXPECT_EQ(FilterCandidates(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p).size(), 1u);
}

TEST(Filter, TopPAppliesToTheMassTopKLeft) {
  SamplingParams p;
  p.top_k = 2;      // {0.4, 0.3}: renormalized {4/7, 3/7}
  p.top_p = 0.55f;  // 4/7 = 0.571 >= 0.55: one token
  EXPECT_EQ(FilterCandidates(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p).size(), 1u);
}

TEST(Filter, MinPDropsTokensBelowAFractionOfTheBest) {
  SamplingParams p;
  p.min_p = 0.6f;  // threshold 0.24: keeps 0.4 and 0.3
  auto c = FilterCandidates(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].first, 2);
  p.min_p = 0.4f;  // threshold 0.16: keeps 0.4, 0.3, 0.2
  EXPECT_EQ(FilterCandidates(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p).size(), 3u);
}

TEST(Filter, DisabledKeepsTheVocabularyInIdOrder) {
  auto c = FilterCandidates({1.0f, 2.0f, 1.0f}, SamplingParams{});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].first, 0);
  EXPECT_EQ(c[1].first, 1);
  EXPECT_EQ(c[2].first, 2);
}

TEST(Filter, FilteredTiesGoByLowerId) {
  SamplingParams p;
  p.top_k = 3;
  auto c = FilterCandidates({1.0f, 2.0f, 1.0f}, p);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].first, 1);
  EXPECT_EQ(c[1].first, 0);
  EXPECT_EQ(c[2].first, 2);
}

// The incremental partial sorts must keep exactly what a full sort and a plain scan keep, on a large vocabulary
// (peaked and flat), for every filter and their combinations.
TEST(Filter, MatchesAFullSortOnALargeVocabulary) {
  for (double scale : {0.5, 8.0}) {  // flat, then peaked
    std::vector<float> logits(5000);
    uint64_t s = SeedRng(11);
    for (float& l : logits) l = static_cast<float>(scale * NextUniform(&s) * NextUniform(&s) * NextUniform(&s));
    for (int32_t k : {0, 7, 300}) {
      for (float top_p : {1.0f, 0.9f, 0.3f}) {
        for (float min_p : {0.0f, 0.05f, 0.5f}) {
          SamplingParams p;
          p.top_k = k;
          p.top_p = top_p;
          p.min_p = min_p;
          // The reference: full sort, then each filter by its definition.
          std::vector<std::pair<int32_t, double>> ref;
          double max = *std::max_element(logits.begin(), logits.end()), z = 0;
          for (size_t i = 0; i < logits.size(); ++i) z += std::exp(static_cast<double>(logits[i]) - max);
          for (size_t i = 0; i < logits.size(); ++i) {
            ref.emplace_back(static_cast<int32_t>(i), std::exp(static_cast<double>(logits[i]) - max) / z);
          }
          std::sort(ref.begin(), ref.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
          });
          if (k > 0) ref.resize(k);
          if (top_p < 1.0f) {
            double mass = 0, cum = 0;
            for (const auto& e : ref) mass += e.second;
            size_t n = 0;
            while (n < ref.size()) {
              cum += ref[n++].second;
              if (cum >= top_p * mass) break;
            }
            ref.resize(n);
          }
          if (min_p > 0.0f) {
            const double thr = min_p * ref.front().second;
            size_t n = 1;
            while (n < ref.size() && ref[n].second >= thr) ++n;
            ref.resize(n);
          }
          auto got = FilterCandidates(logits, p);
          if (k == 0 && top_p == 1.0f && min_p == 0.0f) {
            EXPECT_EQ(got.size(), logits.size());
            continue;
          }
          ASSERT_EQ(got.size(), ref.size()) << "scale " << scale << " k " << k << " p " << top_p << " min_p " << min_p;
          for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(got[i].first, ref[i].first) << i;
        }
      }
    }
  }
}

TEST(Draw, InverseCdfOverRenormalizedMass) {
  const std::vector<std::pair<int32_t, double>> c = {{3, 0.4}, {2, 0.3}};
  EXPECT_EQ(DrawCandidate(c, 0.0), 3);
  EXPECT_EQ(DrawCandidate(c, 0.5), 3);   // target 0.35 < 0.4
  EXPECT_EQ(DrawCandidate(c, 0.6), 2);   // target 0.42 > 0.4
  EXPECT_EQ(DrawCandidate(c, 0.999999), 2);
}

TEST(Rng, UniformMeanAndRange) {
  uint64_t s = SeedRng(7);
  double sum = 0;
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) {
    double u = NextUniform(&s);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Standard error of the mean of U(0,1) over 1e5 draws: sqrt(1/12/1e5) = 9.1e-4; allow ~5.5 sigma.
  EXPECT_NEAR(sum / kN, 0.5, 5e-3);
}

double ChiSquare(const std::map<int32_t, int>& counts, const std::map<int32_t, double>& expected_probs, int n) {
  double chi2 = 0;
  for (const auto& [id, prob] : expected_probs) {
    const double e = prob * n;
    const auto it = counts.find(id);
    const double o = it == counts.end() ? 0 : it->second;
    chi2 += (o - e) * (o - e) / e;
  }
  return chi2;
}

std::map<int32_t, int> Draws(const std::vector<float>& logits, SamplingParams p, int n) {
  SamplerState st;
  InitSamplerState(p, {}, &st);
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    SamplerState fresh_counts = st;  // keep penalties out of it: only the RNG advances
    ++counts[SampleToken(l, p, &fresh_counts).id];
    st.rng_state = fresh_counts.rng_state;
  }
  return counts;
}

TEST(Distribution, PlainSamplingMatchesSoftmax) {
  constexpr int kN = 20000;
  SamplingParams p;
  p.seed = 1234;
  auto counts = Draws(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p, kN);
  EXPECT_LT(ChiSquare(counts, {{0, 0.1}, {1, 0.2}, {2, 0.3}, {3, 0.4}}, kN), kChi2Crit3Dof);
}

TEST(Distribution, TemperatureFlattens) {
  constexpr int kN = 20000;
  SamplingParams p;
  p.seed = 99;
  p.temperature = 2.0f;  // p^(1/2) renormalized
  auto counts = Draws(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p, kN);
  const double z = std::sqrt(0.1) + std::sqrt(0.2) + std::sqrt(0.3) + std::sqrt(0.4);
  EXPECT_LT(ChiSquare(counts,
                      {{0, std::sqrt(0.1) / z}, {1, std::sqrt(0.2) / z}, {2, std::sqrt(0.3) / z},
                       {3, std::sqrt(0.4) / z}},
                      kN),
            kChi2Crit3Dof);
}

TEST(Distribution, TopKRenormalizesTheKept) {
  constexpr int kN = 20000;
  SamplingParams p;
  p.seed = 5;
  p.top_k = 2;
  auto counts = Draws(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p, kN);
  EXPECT_EQ(counts.count(0) + counts.count(1), 0u);
  EXPECT_LT(ChiSquare(counts, {{2, 3.0 / 7}, {3, 4.0 / 7}}, kN), kChi2Crit1Dof);
}

TEST(Distribution, WrongDistributionIsDetected) {
  // The bound has teeth: the same draws fail against a slightly different distribution.
  constexpr int kN = 20000;
  SamplingParams p;
  p.seed = 1234;
  auto counts = Draws(LogitsOfProbs({0.1, 0.2, 0.3, 0.4}), p, kN);
  EXPECT_GT(ChiSquare(counts, {{0, 0.12}, {1, 0.2}, {2, 0.3}, {3, 0.38}}, kN), kChi2Crit3Dof);
}

std::vector<int32_t> SampleSequence(uint64_t seed, int n) {
  SamplingParams p;
  p.seed = seed;
  p.top_p = 0.9f;
  p.repetition_penalty = 1.2f;
  p.presence_penalty = 0.3f;
  SamplerState st;
  InitSamplerState(p, {1, 2, 3}, &st);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    std::vector<float> logits(50);
    for (int v = 0; v < 50; ++v) logits[v] = std::sin(0.37f * v + 0.11f * i);
    out.push_back(SampleToken(logits, p, &st).id);
  }
  return out;
}

TEST(Reproducibility, SameSeedSameTokensDifferentSeedDifferent) {
  EXPECT_EQ(SampleSequence(42, 64), SampleSequence(42, 64));
  EXPECT_NE(SampleSequence(42, 64), SampleSequence(43, 64));
}

TEST(Reproducibility, OtherSequencesDoNotPerturbAState) {
  // Two sequences interleaved draw exactly what each draws alone: the state is per sequence.
  SamplingParams p;
  p.seed = 42;
  p.top_p = 0.9f;
  p.repetition_penalty = 1.2f;
  p.presence_penalty = 0.3f;
  SamplingParams other = p;
  other.seed = 7;
  SamplerState a, b;
  InitSamplerState(p, {1, 2, 3}, &a);
  InitSamplerState(other, {4}, &b);
  std::vector<int32_t> got;
  for (int i = 0; i < 64; ++i) {
    std::vector<float> logits(50);
    for (int v = 0; v < 50; ++v) logits[v] = std::sin(0.37f * v + 0.11f * i);
    std::vector<float> noise = logits;
    SampleToken(noise, other, &b);
    got.push_back(SampleToken(logits, p, &a).id);
  }
  EXPECT_EQ(got, SampleSequence(42, 64));
}

}  // namespace
}  // namespace inference
