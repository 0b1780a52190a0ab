// Stage 3 of a scheduler step: run it. Commits the step's KV transaction, builds the backend's batch (each
// sequence's new tokens, start position, block table, and its sampling params and state when it samples) and
// calls Backend::Execute once.
//
// Thread-safety: engine thread only.
//
//   StepResult result;
//   absl::Status s = RunStep(backend, kv, plan, &result);   // result.tokens[k] belongs to plan.items[k]
#pragma once

#include "absl/status/status.h"
#include "inference/engine/backend.h"
#include "inference/engine/kv_cache.h"
#include "inference/engine/schedule.h"

namespace inference {

// The batch RunStep hands the backend (exposed for tests).
StepBatch BuildBatch(const StepPlan& plan, const KvCache& kv);

// On error no token was sampled (the caller fails the step's sequences); the KV transaction stays committed.
[[nodiscard]] absl::Status RunStep(Backend& backend, KvCache& kv, const StepPlan& plan, StepResult* result);

}  // namespace inference
