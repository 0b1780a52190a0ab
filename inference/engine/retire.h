// Stage 5 of a scheduler step: retirement. Sequences whose cancel was requested finish kCancelled (running or
// still waiting); every finished sequence gives back its KV blocks, gets its one on_finish call, and is
// destroyed.
//
// Thread-safety: engine thread only; the sinks run on it.
//
//   int n = Retire(running, waiting, kv, EngineClock::now(), &counters);
#pragma once

#include <deque>
#include <vector>

#include "inference/engine/kv_cache.h"
#include "inference/engine/sequence.h"
#include "inference/engine/stats.h"

namespace inference {

// Returns the number retired.
int Retire(std::vector<SeqPtr>& running, std::deque<SeqPtr>& waiting, KvCache& kv, EngineClock::time_point now,
           EngineCounters* counters);

// Finishes every sequence kCancelled and retires it (engine shutdown).
int RetireAll(std::vector<SeqPtr>& running, std::deque<SeqPtr>& waiting, KvCache& kv, EngineClock::time_point now,
              EngineCounters* counters);

}  // namespace inference
