#include "inference/engine/emit.h"

#include <algorithm>

namespace inference {

void Emit(const StepPlan& plan, const StepResult& result, int32_t context_length, EngineClock::time_point now,
          EngineCounters* counters) {
  for (size_t k = 0; k < plan.items.size(); ++k) {
    const ScheduledSeq& it = plan.items[k];
    Sequence& seq = *it.seq;
    if (seq.state == SeqState::kPrefilling) counters->prefill_tokens_total += it.count;
    seq.num_cached += it.count;
    if (!it.sample) continue;

    const SampledToken& sampled = result.tokens[k];
    ++counters->generation_tokens_total;
    if (seq.timings.first_token == EngineClock::time_point{}) seq.timings.first_token = now;
    seq.tokens.push_back(sampled.id);
    seq.state = SeqState::kDecoding;

    const std::vector<int32_t>& stops = seq.request.stop_ids;
    if (std::find(stops.begin(), stops.end(), sampled.id) != stops.end()) {
      seq.stop_token = sampled.id;
      seq.Finish(FinishReason::kStop);
      continue;
    }
    if (seq.sink.on_token) {
      GeneratedToken token;
      token.id = sampled.id;
      token.index = seq.num_generated() - 1;
      token.has_logprobs = seq.request.sampling.logprobs_top_n >= 0;
      token.logprob = sampled.logprob;
      token.top = sampled.top;
      seq.sink.on_token(token);
    }
    if (seq.num_generated() >= seq.request.max_tokens ||
        static_cast<int32_t>(seq.tokens.size()) >= context_length) {
      seq.Finish(FinishReason::kLength);
    }
  }
}

void FailStep(const StepPlan& plan, const absl::Status& status) {
  for (const ScheduledSeq& it : plan.items) it.seq->Finish(FinishReason::kError, status);
}

}  // namespace inference
