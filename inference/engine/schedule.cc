#include "inference/engine/schedule.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace inference {
namespace {

std::vector<ScheduledSeq> Pick(const ScheduleLimits& limits, std::vector<SeqPtr>& running) {
  std::vector<ScheduledSeq> items;
  int32_t budget = limits.max_batch_tokens;
  for (SeqPtr& s : running) {
    if (budget == 0) break;
    if (s->finished() || s->state != SeqState::kDecoding) continue;
    items.push_back({s.get(), s->num_cached, 1, true});
    --budget;
  }
  for (SeqPtr& s : running) {
    if (budget == 0) break;
    if (s->finished() || s->state != SeqState::kPrefilling) continue;
    const int32_t count = std::min(budget, s->num_uncached());
    items.push_back({s.get(), s->num_cached, count, s->num_cached + count == static_cast<int32_t>(s->tokens.size())});
    budget -= count;
  }
  return items;
}

std::vector<KvGrow> Grows(const std::vector<ScheduledSeq>& items) {
  std::vector<KvGrow> grows;
  grows.reserve(items.size());
  for (const ScheduledSeq& it : items) grows.push_back({it.seq->id, it.start, it.start + it.count});
  return grows;
}

}  // namespace

void Preempt(Sequence& seq, KvCache& kv) {
  kv.Free(seq.id);
  seq.num_cached = 0;
  seq.state = SeqState::kWaiting;
  ++seq.preemptions;
}

StepPlan Schedule(const ScheduleLimits& limits, const SchedulingPolicy& policy, std::vector<SeqPtr>& running,
                  std::deque<SeqPtr>& waiting, KvCache& kv, EngineCounters* counters) {
  while (true) {
    StepPlan plan;
    plan.items = Pick(limits, running);
    if (plan.items.empty()) return plan;
    absl::StatusOr<KvPlan> kv_plan = kv.Plan(Grows(plan.items));
    if (kv_plan.ok()) {
      plan.kv = *std::move(kv_plan);
      return plan;
    }
    // Only decode growth can miss: admission reserved blocks for every known token.
    std::vector<size_t> live;
    for (size_t i = 0; i < running.size(); ++i) {
      if (!running[i]->finished()) live.push_back(i);
    }
    if (live.size() <= 1) {
      for (size_t i : live) {
        running[i]->Finish(FinishReason::kError,
                           absl::ResourceExhaustedError(absl::StrCat(
                               "the KV cache cannot hold this request alone: ", kv_plan.status().message())));
      }
      continue;
    }
    const size_t victim = policy.PickVictim(running);
    Preempt(*running[victim], kv);
    ++counters->preemptions_total;
    waiting.push_front(std::move(running[victim]));
    running.erase(running.begin() + static_cast<std::ptrdiff_t>(victim));
  }
}

}  // namespace inference
