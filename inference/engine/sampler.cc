#include "inference/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "inference/engine/rng.h"

namespace inference {
namespace {

absl::Status RangeError(const char* field, double value, const char* range) {
  return absl::InvalidArgumentError(
      absl::StrCat("sampling.", field, " = ", value, " is out of range ", range));
}

// Most likely first; equal probabilities by lower id, so the order is a pure function of the logits.
bool MoreLikely(const std::pair<int32_t, double>& a, const std::pair<int32_t, double>& b) {
  return a.second != b.second ? a.second > b.second : a.first < b.first;
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& p, int vocab_size) {
  // Comparisons are written so that NaN fails them.
  if (!(p.temperature >= 0.0f && p.temperature <= kMaxTemperature)) {
    return RangeError("temperature", p.temperature, "[0, 100]");
  }
  if (p.top_k < 0 || p.top_k > vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.top_k = ", p.top_k, " is out of range [0, ",
                                                   vocab_size, "] (0 disables; at most the vocabulary size)"));
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return RangeError("top_p", p.top_p, "(0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return RangeError("min_p", p.min_p, "[0, 1]");
  if (!(p.repetition_penalty > 0.0f && p.repetition_penalty <= kMaxRepetitionPenalty)) {
    return RangeError("repetition_penalty", p.repetition_penalty, "(0, 2]");
  }
  if (!(std::fabs(p.presence_penalty) <= kMaxAbsPresencePenalty)) {
    return RangeError("presence_penalty", p.presence_penalty, "[-2, 2]");
  }
  if (!(std::fabs(p.frequency_penalty) <= kMaxAbsFrequencyPenalty)) {
    return RangeError("frequency_penalty", p.frequency_penalty, "[-2, 2]");
  }
  if (p.logprobs_top_n < -1 || p.logprobs_top_n > kMaxLogprobsTopN) {
    return absl::InvalidArgumentError(absl::StrCat("logprobs.top_n = ", p.logprobs_top_n,
                                                   " is out of range [0, 20] (-1: no logprobs)"));
  }
  return absl::OkStatus();
}

void InitSamplerState(const SamplingParams& params, const std::vector<int32_t>& prompt, SamplerState* state) {
  state->rng_state = SeedRng(params.seed);
  state->output_counts.clear();
  state->seen.clear();
  for (int32_t id : prompt) state->seen[id] = true;
}

void RecordToken(int32_t id, SamplerState* state) {
  ++state->output_counts[id];
  state->seen[id] = true;
}

void ApplyPenalties(const SamplingParams& params, const SamplerState& state, std::vector<float>& logits) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  if (params.repetition_penalty != 1.0f) {
    for (const auto& [id, unused] : state.seen) {
      if (id < 0 || id >= vocab) continue;
      float& l = logits[id];
      l = l > 0 ? l / params.repetition_penalty : l * params.repetition_penalty;
    }
  }
  if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    for (const auto& [id, count] : state.output_counts) {
      if (id < 0 || id >= vocab || count <= 0) continue;
      logits[id] -= params.frequency_penalty * static_cast<float>(count) + params.presence_penalty;
    }
  }
}

std::vector<float> LogSoftmax(const std::vector<float>& logits) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double log_z = max + std::log(sum);
  std::vector<float> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(logits[i] - log_z);
  return out;
}

int32_t Argmax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::vector<std::pair<int32_t, double>> FilterCandidates(const std::vector<float>& logits,
                                                         const SamplingParams& params) {
  const int32_t vocab = static_cast<int32_t>(logits.size());
  const double max = *std::max_element(logits.begin(), logits.end());
  std::vector<std::pair<int32_t, double>> c(vocab);
  double sum = 0;
  for (int32_t i = 0; i < vocab; ++i) {
    c[i] = {i, std::exp(static_cast<double>(logits[i]) - max)};
    sum += c[i].second;
  }
  for (auto& [id, p] : c) p /= sum;

  // c[0, sorted) is ordered most likely first and nothing after it is more likely, so the prefix can be extended
  // by selecting from the rest: filters that keep few tokens never sort the whole vocabulary.
  size_t sorted = 0;
  const auto sort_prefix = [&](size_t n) {
    n = std::min(n, c.size());
    if (n <= sorted) return;
    const auto from = c.begin() + static_cast<std::ptrdiff_t>(sorted);
    const auto to = c.begin() + static_cast<std::ptrdiff_t>(n);
    // A small prefix: one heap pass (V log k). A larger one: selection (linear on average), then sort it alone.
    constexpr size_t kHeapLimit = 256;
    if (n - sorted <= kHeapLimit) {
      std::partial_sort(from, to, c.end(), MoreLikely);
    } else {
      if (to != c.end()) std::nth_element(from, to, c.end(), MoreLikely);
      std::sort(from, to, MoreLikely);
    }
    sorted = n;
  };
  if (params.top_k > 0 && params.top_k < vocab) {
    sort_prefix(static_cast<size_t>(params.top_k));
    c.resize(static_cast<size_t>(params.top_k));
    sorted = std::min(sorted, c.size());
  }
  if (params.top_p < 1.0f) {
    // The smallest prefix whose renormalized mass reaches top_p (the token that crosses it is kept).
    double kept_mass = 0;
    for (const auto& e : c) kept_mass += e.second;
    const double target = static_cast<double>(params.top_p) * kept_mass;
    constexpr size_t kFirstChunk = 64;  // typical nuclei of peaked LLM distributions fit in the first chunk
    double cum = 0;
    size_t n = 0;
    bool reached = false;
    for (size_t chunk = kFirstChunk; !reached && n < c.size(); chunk *= 4) {
      sort_prefix(n + chunk);
      while (n < sorted) {
        cum += c[n].second;
        ++n;
        if (cum >= target) {
          reached = true;
          break;
        }
      }
    }
    c.resize(n);
    sorted = std::min(sorted, c.size());
  }
  if (params.min_p > 0.0f) {
    sort_prefix(1);
    const double threshold = static_cast<double>(params.min_p) * c.front().second;
    size_t k = 0;
    while (k < sorted && c[k].second >= threshold) ++k;
    if (k < sorted) {
      c.resize(k);  // the cut falls inside the sorted prefix
      sorted = k;
    } else {
      const auto kept = std::partition(c.begin() + static_cast<std::ptrdiff_t>(sorted), c.end(),
                                       [&](const auto& e) { return e.second >= threshold; });
      c.erase(kept, c.end());
    }
  }
  // No filter: the whole vocabulary in id order (sorting it would cost O(V log V) per token for nothing).
  if (params.top_k > 0 || params.top_p < 1.0f || params.min_p > 0.0f) sort_prefix(c.size());
  return c;
}

int32_t DrawCandidate(const std::vector<std::pair<int32_t, double>>& candidates, double u) {
  double total = 0;
  for (const auto& e : candidates) total += e.second;
  const double target = u * total;
  double cum = 0;
  for (const auto& e : candidates) {
    cum += e.second;
    if (cum > target) return e.first;
  }
  return candidates.back().first;
}

SampledToken SampleToken(std::vector<float>& logits, const SamplingParams& params, SamplerState* state) {
  ApplyPenalties(params, *state, logits);
  const bool greedy = params.temperature == 0.0f;
  if (!greedy && params.temperature != 1.0f) {
    for (float& l : logits) l /= params.temperature;
  }
  SampledToken out;
  if (greedy) {
    out.id = Argmax(logits);
  } else {
    out.id = DrawCandidate(FilterCandidates(logits, params), NextUniform(&state->rng_state));
  }
  if (params.logprobs_top_n >= 0) {
    const std::vector<float> lp = LogSoftmax(logits);
    out.logprob = lp[out.id];
    const size_t n = std::min<size_t>(static_cast<size_t>(params.logprobs_top_n), lp.size());
    std::vector<std::pair<int32_t, double>> ranked(lp.size());
    for (size_t i = 0; i < lp.size(); ++i) ranked[i] = {static_cast<int32_t>(i), lp[i]};
    std::partial_sort(ranked.begin(), ranked.begin() + n, ranked.end(), MoreLikely);
    for (size_t i = 0; i < n; ++i) out.top.emplace_back(ranked[i].first, static_cast<float>(ranked[i].second));
  }
  RecordToken(out.id, state);
  return out;
}

}  // namespace inference
