// The engine's counters and a snapshot for metrics. Who changes each field is listed in README.md; every field is
// written by the engine thread only (the scheduler's stages) except requests_rejected_total (Engine::Submit,
// under the engine's mutex). Plain data: a snapshot is a copy.
//
//   EngineStats s = engine.Stats();
//   gauge_running.Set(s.running);
#pragma once

#include <array>
#include <cstdint>

#include "inference/engine/request.h"

namespace inference {

inline constexpr int kNumFinishReasons = 5;  // FinishReason's values, kNone included

struct EngineCounters {
  int64_t steps_total = 0;             // backend steps run (Scheduler::Step)
  int64_t prefill_tokens_total = 0;    // prompt tokens computed, recomputation included (Emit)
  int64_t generation_tokens_total = 0; // tokens sampled, stop tokens included (Emit)
  int64_t preemptions_total = 0;       // running sequences sent back to wait (Schedule)
  int64_t requests_admitted_total = 0; // first admissions (Admit)
  int64_t requests_rejected_total = 0; // refused by Submit: bad input or wait queue full (Engine::Submit)
  std::array<int64_t, kNumFinishReasons> requests_finished_total{};  // by FinishReason (Retire)
};

struct EngineStats {
  EngineCounters counters;
  int32_t running = 0;          // sequences admitted, not yet retired (vLLM num_requests_running)
  int32_t waiting = 0;          // accepted, not admitted (vLLM num_requests_waiting), preempted ones included
  double kv_usage = 0;          // fraction of KV blocks in use (vLLM kv_cache_usage_perc)
  int32_t kv_free_blocks = 0;
  int32_t kv_num_blocks = 0;
};

}  // namespace inference
