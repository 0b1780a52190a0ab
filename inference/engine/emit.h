// Stage 4 of a scheduler step: apply the results. Advances each sequence's cached count; for each sampled token
// appends it, calls the sink's on_token (a stop id is not emitted) and decides the finish: kStop on a stop id,
// kLength when max_tokens are generated or the context is full. FailStep instead fails every sequence of a step
// the backend could not run.
//
// Thread-safety: engine thread only; the sinks run on it.
//
//   if (status.ok()) Emit(plan, result, context_length, EngineClock::now(), &counters);
//   else FailStep(plan, status);
#pragma once

#include "absl/status/status.h"
#include "inference/engine/backend.h"
#include "inference/engine/schedule.h"
#include "inference/engine/stats.h"

namespace inference {

void Emit(const StepPlan& plan, const StepResult& result, int32_t context_length, EngineClock::time_point now,
          EngineCounters* counters);

void FailStep(const StepPlan& plan, const absl::Status& status);

}  // namespace inference
