// Stage 1 of a scheduler step: admission. Moves sequences from the wait queue into the running batch while the
// policy's pick fits: the running batch has room and the KV cache can hold blocks for every token the sequence
// knows, with one block to spare per running sequence (so the next decode step does not immediately preempt).
// An empty batch admits whatever fits at all. Stops at the first pick that does not fit (no overtaking).
//
// Thread-safety: engine thread only.
//
//   AdmitLimits limits{/*max_running=*/64};
//   int n = Admit(limits, fcfs, waiting, running, kv, EngineClock::now(), &counters);
#pragma once

#include <deque>
#include <vector>

#include "inference/engine/kv_cache.h"
#include "inference/engine/policy.h"
#include "inference/engine/sequence.h"
#include "inference/engine/stats.h"

namespace inference {

struct AdmitLimits {
  int32_t max_running = 64;  // sequences in the running batch at most
};

// Returns the number admitted. Admitted sequences hold their blocks, are kPrefilling and sit in `running` in
// arrival (id) order.
int Admit(const AdmitLimits& limits, const SchedulingPolicy& policy, std::deque<SeqPtr>& waiting,
          std::vector<SeqPtr>& running, KvCache& kv, EngineClock::time_point now, EngineCounters* counters);

}  // namespace inference
