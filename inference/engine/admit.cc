#include "inference/engine/admit.h"

#include <algorithm>

namespace inference {

int Admit(const AdmitLimits& limits, const SchedulingPolicy& policy, std::deque<SeqPtr>& waiting,
          std::vector<SeqPtr>& running, KvCache& kv, EngineClock::time_point now, EngineCounters* counters) {
  int admitted = 0;
  while (!waiting.empty() && static_cast<int32_t>(running.size()) < limits.max_running) {
    const size_t pick = policy.PickToAdmit(waiting);
    Sequence& seq = *waiting[pick];
    const int32_t tokens = static_cast<int32_t>(seq.tokens.size());
    const int32_t headroom = static_cast<int32_t>(running.size());
    if (kv.BlocksFor(tokens) + headroom > kv.num_free_blocks()) break;
    absl::StatusOr<KvPlan> plan = kv.Plan({{seq.id, 0, tokens}});
    if (!plan.ok()) break;
    kv.Commit(*plan);
    seq.num_cached = 0;
    seq.state = SeqState::kPrefilling;
    if (!seq.ever_admitted) {
      seq.ever_admitted = true;
      seq.timings.admitted = now;
      ++counters->requests_admitted_total;
    }
    SeqPtr owned = std::move(waiting[pick]);
    waiting.erase(waiting.begin() + static_cast<std::ptrdiff_t>(pick));
    const auto at = std::upper_bound(running.begin(), running.end(), owned->id,
                                     [](SeqId id, const SeqPtr& s) { return id < s->id; });
    running.insert(at, std::move(owned));
    ++admitted;
  }
  return admitted;
}

}  // namespace inference
