// One Chat or Complete call from start to end: Render (chat only) → Encode(segments, parse_special) → Generate →
// DecodeStream, with stop strings applied on the way back. Runs on the calling (worker) thread with blocking
// downstream calls; every downstream call carries the client's deadline and is registered with the call's
// CallControl, so a client cancel cancels it (and the generation service frees the request's KV blocks).
//
// Messages are handed to `send` in order: text deltas (never a partial UTF-8 character, never any part of a stop
// string), then one last message with finish_reason, stop_reason and usage. On a non-OK return the call ends with
// that status (messages already sent stay sent).
//
// Thread-safety: RunPipeline is reentrant; `downstream` and `info` are only read.
//
//   CallControl control;
//   absl::Status s = RunPipeline(downstream, info, PipelineInput{.chat = &request, .deadline = d}, &control,
//                                [&](TextGenerationResponse&& m) { writer.Post(std::move(m)); });
#pragma once

#include <chrono>
#include <functional>

#include "absl/status/status.h"
#include "awqserve/v1/gateway.pb.h"
#include "services/gateway/call_control.h"
#include "services/gateway/downstream.h"

namespace gateway {

struct PipelineInput {
  const awqserve::v1::ChatRequest* chat = nullptr;          // exactly one of chat and complete
  const awqserve::v1::CompleteRequest* complete = nullptr;
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
};

using SendFn = std::function<void(awqserve::v1::TextGenerationResponse&&)>;

// Validates the request (request_validation.h), then runs it. Returns OK after the last message was handed to send.
[[nodiscard]] absl::Status RunPipeline(const Downstream& downstream, const ModelInfo& info, const PipelineInput& input,
                                       CallControl* control, const SendFn& send);

}  // namespace gateway
