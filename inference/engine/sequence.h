// The engine-owned state of one request (the API's EngineRequest is a different type: request.h). Only the
// engine thread creates, changes and destroys sequences; the scheduler's stages move them through SeqState.
//
// Thread-safety: none; engine thread only.
//
//   auto seq = std::make_unique<Sequence>(id, std::move(request), std::move(sink), EngineClock::now());
//   seq->num_uncached();   // prompt tokens still to prefill
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "inference/engine/kv_cache.h"
#include "inference/engine/request.h"
#include "inference/engine/sampler.h"

namespace inference {

// In lifecycle order. Preemption (recompute) sends a running sequence back to kWaiting.
enum class SeqState {
  kWaiting,     // in the wait queue, no KV blocks
  kPrefilling,  // admitted: blocks for every known token held; prefill chunks run until one is left uncached
  kDecoding,    // exactly one known token is uncached: each step computes it and samples the next
  kFinished,    // finish set; Retire frees its blocks and calls on_finish
};

struct Sequence {
  Sequence(SeqId id_in, EngineRequest request_in, RequestSink sink_in, EngineClock::time_point arrival)
      : id(id_in), request(std::move(request_in)), sink(std::move(sink_in)), tokens(request.prompt) {
    InitSamplerState(request.sampling, request.prompt, &sampler);
    timings.arrival = arrival;
  }

  int32_t num_prompt() const { return static_cast<int32_t>(request.prompt.size()); }
  int32_t num_generated() const { return static_cast<int32_t>(tokens.size()) - num_prompt(); }
  int32_t num_uncached() const { return static_cast<int32_t>(tokens.size()) - num_cached; }
  bool finished() const { return finish != FinishReason::kNone; }
  // Sets the finish reason once (the first reason wins) and the state.
  void Finish(FinishReason reason, absl::Status status = absl::OkStatus()) {
    if (finished()) return;
    finish = reason;
    error = std::move(status);
    state = SeqState::kFinished;
  }

  const SeqId id;
  const EngineRequest request;
  const RequestSink sink;

  SeqState state = SeqState::kWaiting;
  std::vector<int32_t> tokens;   // the prompt, then every generated token (a stop token included)
  int32_t num_cached = 0;        // tokens[0, num_cached) have K/V in the cache
  SamplerState sampler;
  bool cancel_requested = false;
  bool ever_admitted = false;
  FinishReason finish = FinishReason::kNone;
  absl::Status error;
  int32_t stop_token = -1;
  int32_t preemptions = 0;
  RequestTimings timings;
};

using SeqPtr = std::unique_ptr<Sequence>;

}  // namespace inference
