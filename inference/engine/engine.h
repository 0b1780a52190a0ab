// The engine: requests in, token streams out. Submit validates a request up front and queues it; one engine
// thread owns every sequence and runs the scheduler (continuous batching over the paged KV cache) step after
// step; each request's tokens (with logprobs) and its finish reason arrive through its RequestSink. Cancel frees
// the request's KV blocks at the next step. The engine knows no gRPC.
//
// Thread-safety: Submit, Cancel and Stats may be called from any thread. Either Start() the engine thread
// (services), or drive it with Step()/RunUntilIdle() from one thread that never overlaps with Start (tests, the
// CLI). Sinks run on the thread that steps.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, Engine::Create(config, std::move(backend)));
//   engine->Start();
//   ASSIGN_OR_RETURN(RequestHandle h, engine->Submit(request, sink));   // INVALID_ARGUMENT / RESOURCE_EXHAUSTED
//   engine->Cancel(h);                                                  // optional; on_finish says kCancelled
//   engine->Stop();                                                     // unfinished requests end kCancelled
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/engine/backend.h"
#include "inference/engine/request.h"
#include "inference/engine/scheduler.h"
#include "inference/engine/stats.h"
#include "inference/engine/validate_request.h"

namespace inference {

using RequestHandle = SeqId;

struct EngineConfig {
  int32_t vocab_size = 0;            // the model's
  int32_t context_length = 0;        // the model's max_position_embeddings
  int32_t sliding_window = 0;        // the model's; 0: none
  int32_t max_queued_requests = 256; // accepted but not yet admitted, at most; beyond: RESOURCE_EXHAUSTED
  int32_t max_running = 64;          // sequences in one batch
  int32_t max_batch_tokens = 512;    // tokens per step, prefill chunks and decodes together; >= max_running
};

class Engine {
 public:
  // INVALID_ARGUMENT when the config is unusable (names the field).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Engine>> Create(const EngineConfig& config,
                                                                      std::unique_ptr<Backend> backend);
  ~Engine();  // Stop()s; then every unfinished request gets on_finish(kCancelled)

  // Validates (validate_request.h), then queues. RESOURCE_EXHAUSTED when max_queued_requests are waiting.
  [[nodiscard]] absl::StatusOr<RequestHandle> Submit(EngineRequest request, RequestSink sink);
  // Cancels a queued or running request: at the next step it is retired with kCancelled and its blocks freed.
  // Unknown or finished handles are ignored.
  void Cancel(RequestHandle handle);

  // Synchronous driving: one scheduler step (takes in new requests and cancels first). True when a batch ran.
  bool Step();
  // Steps until nothing can run.
  void RunUntilIdle();

  // Service driving: the engine thread steps while there is work and sleeps otherwise.
  void Start();
  // Stops the thread (if started) and finishes every unfinished request kCancelled.
  void Stop();

  // A snapshot, refreshed after every step (and on Submit for the waiting count).
  EngineStats Stats() const;
  const EngineConfig& config() const { return config_; }
  const BackendInfo& backend_info() const { return backend_->info(); }
  const RequestLimits& limits() const { return limits_; }

 private:
  Engine(const EngineConfig& config, std::unique_ptr<Backend> backend);
  // Moves new requests and cancels into the scheduler (engine thread).
  void TakeInbox();     // takes mu_
  void PublishStats();  // takes mu_
  void Loop();

  const EngineConfig config_;
  const std::unique_ptr<Backend> backend_;
  RequestLimits limits_;
  Scheduler scheduler_;           // engine thread only

  // std::mutex rather than absl::Mutex: ThreadSanitizer sees pthread locking, so the engine's tests run clean
  // under -fsanitize=thread with Debian's uninstrumented Abseil.
  mutable std::mutex mu_;
  // Guarded by mu_:
  std::vector<SeqPtr> inbox_;
  std::vector<RequestHandle> cancels_;
  SeqId next_id_ = 1;
  int32_t scheduler_waiting_ = 0;   // the scheduler's wait queue after the last step
  int64_t rejected_ = 0;
  EngineStats stats_;
  bool stop_ = false;
  std::condition_variable wake_;    // signalled on new input and on Stop
  std::thread thread_;
};

}  // namespace inference
