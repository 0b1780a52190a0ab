// What a caller gives the engine and what it gets back: the API request (EngineRequest), the callbacks that
// receive its tokens and its end (RequestSink), and the events they carry. Plain data; the engine copies the
// request at Submit and owns its own Sequence (sequence.h) from then on.
//
// Thread-safety: the sink's callbacks run on the engine thread, one request's calls in order; they must be quick
// and must not block on the engine (calling Engine::Cancel or Submit from them is fine).
//
//   EngineRequest req;
//   req.prompt = {1, 415, 2936};
//   req.sampling.temperature = 0;
//   req.max_tokens = 32;
//   req.stop_ids = {2};
//   RequestSink sink;
//   sink.on_token = [&](const GeneratedToken& t) { ids.push_back(t.id); };
//   sink.on_finish = [&](const FinishedRequest& f) { done = true; };
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "inference/engine/sampling_params.h"

namespace inference {

using EngineClock = std::chrono::steady_clock;

// Why a request ended (proto FinishReason). kNone: not finished.
enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* FinishReasonName(FinishReason reason);  // "stop", "length", "cancelled", "error", "none"

struct EngineRequest {
  std::vector<int32_t> prompt;    // 1 or more ids in [0, vocab); BOS is not added
  SamplingParams sampling;        // includes the seed and logprobs_top_n (-1: none)
  std::vector<int32_t> stop_ids;  // generating one ends the request (kStop); the stop id is not emitted
  int32_t max_tokens = 0;         // >= 1; prompt.size() + max_tokens <= the model's context
};

struct GeneratedToken {
  int32_t id = -1;
  int32_t index = 0;                              // 0 for the first generated token
  bool has_logprobs = false;                      // the request asked for logprobs
  float logprob = 0;                              // of id (sampler.h says which distribution)
  std::vector<std::pair<int32_t, float>> top;     // top-n (id, logprob), most likely first
};

// Per-request timestamps for metrics (queue time = admitted - arrival, TTFT = first_token - arrival). A stage
// that never happened (cancelled while waiting, say) leaves its time_point default-constructed (the epoch).
struct RequestTimings {
  EngineClock::time_point arrival;      // Submit accepted it
  EngineClock::time_point admitted;     // first admitted to the running batch
  EngineClock::time_point first_token;  // the first generated token (a stop token included) was sampled
  EngineClock::time_point finished;
};

struct FinishedRequest {
  FinishReason reason = FinishReason::kNone;
  absl::Status error;               // set when reason == kError
  int32_t stop_token = -1;          // the stop id generated, when reason == kStop
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;    // generated tokens, a stop token included
  int32_t preemptions = 0;          // times the request was preempted and recomputed
  RequestTimings timings;
};

// on_token for every generated token except a stop id, then on_finish exactly once, last. Either may be empty.
struct RequestSink {
  std::function<void(const GeneratedToken&)> on_token;
  std::function<void(const FinishedRequest&)> on_finish;
};

}  // namespace inference
