// Stage 2 of a scheduler step: what runs. Decode steps first (one token each, in arrival order), then prefill
// chunks in arrival order, all sharing one token budget; a prompt longer than what is left of the budget is
// prefilled in chunks over several steps (chunked prefill). The whole step's KV growth is planned as one
// transaction (kv_cache.h). When it does not fit, the policy's victim is preempted by recompute — its blocks
// freed, its known tokens to be prefilled again, back at the head of the wait queue — and the step is planned
// again; a sequence alone in the batch that still cannot grow is failed (the cache is smaller than one
// request; Engine::Submit rejects such requests up front, so this is a guard against deadlock, not a path).
//
// Thread-safety: engine thread only.
//
//   StepPlan plan = Schedule({/*max_batch_tokens=*/512}, fcfs, running, waiting, kv, &counters);
//   // plan.items: which sequences run which tokens; plan.kv: the KV transaction RunStep commits
#pragma once

#include <deque>
#include <vector>

#include "inference/engine/kv_cache.h"
#include "inference/engine/policy.h"
#include "inference/engine/sequence.h"
#include "inference/engine/stats.h"

namespace inference {

struct ScheduleLimits {
  int32_t max_batch_tokens = 512;  // tokens computed per step, prefill and decode together
};

struct ScheduledSeq {
  Sequence* seq = nullptr;
  int32_t start = 0;     // first position computed (== seq->num_cached)
  int32_t count = 0;     // tokens computed: tokens[start, start + count)
  bool sample = false;   // the chunk reaches the last known token: sample the next one
};

struct StepPlan {
  std::vector<ScheduledSeq> items;
  KvPlan kv;
  bool empty() const { return items.empty(); }
};

// `running` holds no finished sequence on entry (Retire ran). Preempted sequences move from `running` to the front of `waiting`.
StepPlan Schedule(const ScheduleLimits& limits, const SchedulingPolicy& policy, std::vector<SeqPtr>& running,
                  std::deque<SeqPtr>& waiting, KvCache& kv, EngineCounters* counters);

// Preemption by recompute: frees the sequence's blocks and resets it to kWaiting with nothing cached (its
// generated tokens and sampler state are kept, so it continues exactly where it stopped).
void Preempt(Sequence& seq, KvCache& kv);

}  // namespace inference
