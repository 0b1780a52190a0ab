#include "services/generation/sampling_proto.h"

#include <cmath>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"

namespace generation {
namespace {

absl::Status OutOfRange(const std::string& prefix, const char* field, const std::string& range, double got) {
  return absl::InvalidArgumentError(absl::StrCat(prefix, ".", field, ": must be in ", range, ", got ", got));
}

uint64_t RandomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

absl::StatusOr<inference::SamplingParams> SamplingFromProto(const awqserve::v1::SamplingParams& s,
                                                           const awqserve::v1::LogprobOptions& lp,
                                                           const std::string& sf, const std::string& lf,
                                                           int vocab_size) {
  inference::SamplingParams p;
  if (s.has_temperature()) p.temperature = s.temperature();
  if (s.has_top_k()) p.top_k = s.top_k();
  if (s.has_top_p()) p.top_p = s.top_p();
  if (s.has_min_p()) p.min_p = s.min_p();
  if (s.has_repetition_penalty()) p.repetition_penalty = s.repetition_penalty();
  if (s.has_presence_penalty()) p.presence_penalty = s.presence_penalty();
  if (s.has_frequency_penalty()) p.frequency_penalty = s.frequency_penalty();
  p.seed = s.has_seed() ? s.seed() : RandomSeed();

  // Written so that NaN fails every check.
  if (!(p.temperature >= 0 && p.temperature <= kMaxTemperature)) {
    return OutOfRange(sf, "temperature", absl::StrCat("[0, ", kMaxTemperature, "]"), p.temperature);
  }
  if (p.top_k < 0 || (vocab_size > 0 && p.top_k > vocab_size)) {
    std::string range = vocab_size > 0 ? absl::StrCat("[0, ", vocab_size, "] (0 disables it)") : "[0, vocab size]";
    return OutOfRange(sf, "top_k", range, p.top_k);
  }
  if (!(p.top_p > 0 && p.top_p <= 1)) return OutOfRange(sf, "top_p", "(0, 1]", p.top_p);
  if (!(p.min_p >= 0 && p.min_p <= 1)) return OutOfRange(sf, "min_p", "[0, 1]", p.min_p);
  if (!(p.repetition_penalty > 0 && p.repetition_penalty <= kMaxRepetitionPenalty)) {
    return OutOfRange(sf, "repetition_penalty", absl::StrCat("(0, ", kMaxRepetitionPenalty, "]"),
                      p.repetition_penalty);
  }
  const std::string penalty_range =
      absl::StrCat("[-", kMaxAbsPresenceFrequencyPenalty, ", ", kMaxAbsPresenceFrequencyPenalty, "]");
  if (!(std::fabs(p.presence_penalty) <= kMaxAbsPresenceFrequencyPenalty)) {
    return OutOfRange(sf, "presence_penalty", penalty_range, p.presence_penalty);
  }
  if (!(std::fabs(p.frequency_penalty) <= kMaxAbsPresenceFrequencyPenalty)) {
    return OutOfRange(sf, "frequency_penalty", penalty_range, p.frequency_penalty);
  }

  if (lp.top_n() < 0 || lp.top_n() > kMaxLogprobsTopN) {
    return OutOfRange(lf, "top_n", absl::StrCat("[0, ", kMaxLogprobsTopN, "]"), lp.top_n());
  }
  if (lp.top_n() > 0 && !lp.enabled()) {
    return absl::InvalidArgumentError(absl::StrCat(lf, ".top_n: needs ", lf, ".enabled"));
  }
  p.logprobs_top_n = lp.enabled() ? lp.top_n() : -1;
  return p;
}

}  // namespace generation
