// awqserve.v1.Generation around an inference::Engine: Generate streams a request's tokens as the engine produces
// them; Info describes the model, the KV pool and the server's limits.
//
// One reactor per Generate call (gRPC callback API). The engine thread only calls the request's sink, which hands
// messages to the reactor; the reactor keeps one write in flight and folds tokens that arrive meanwhile into the
// next message. OnCancel (client cancel, or its deadline passing) and a failed write call Engine::Cancel, which
// frees the request's KV blocks at the next step. A reactor lives until both gRPC is done with it and the engine
// has called on_finish.
//
// The service is registered before the model is loaded (so the server answers health checks while it loads):
// until Attach, Info and Generate answer UNAVAILABLE; until SetReady(true), Generate does.
//
// Thread-safety: the RPC methods are called concurrently by gRPC; Attach once, from one thread, before WarmUp;
// SetReady from any thread.
//
//   GenerationService service;            // registered with the ServiceHost, which starts serving
//   ... load the model, build the engine ...
//   service.Attach(engine.get(), &metrics, ServiceOptions{...});
//   RETURN_IF_ERROR(service.WarmUp());    // one real step; then
//   service.SetReady(true);
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "awqserve/v1/generation.grpc.pb.h"
#include "inference/engine/engine.h"
#include "inference/model/model_config.h"
#include "services/generation/engine_metrics.h"

namespace generation {

// What the service knows besides the engine: the model and the server's limits.
struct ServiceOptions {
  std::string model_name;            // the base name of --model_dir
  inference::ModelConfig model;      // config.json / generation_config.json
  uint32_t max_tokens_cap = 4096;    // --max_tokens_cap
};

class GenerationService final : public awqserve::v1::Generation::CallbackService {
 public:
  GenerationService() = default;
  void Attach(inference::Engine* engine, EngineMetrics* metrics, ServiceOptions options);

  // Runs one greedy one-token request through the engine and waits for it: the first real step.
  [[nodiscard]] absl::Status WarmUp();
  // Until ready (and again while draining) Generate answers UNAVAILABLE.
  void SetReady(bool ready) { ready_ = ready; }

  grpc::ServerWriteReactor<awqserve::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* ctx, const awqserve::v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* ctx, const awqserve::v1::GenerationInfoRequest* request,
                                 awqserve::v1::GenerationInfo* response) override;

  // The GenerateRequest as an EngineRequest: defaults, range checks, the model's EOS ids unless ignore_eos.
  [[nodiscard]] absl::StatusOr<inference::EngineRequest> ToEngineRequest(
      const awqserve::v1::GenerateRequest& request) const;
  awqserve::v1::GenerationInfo MakeInfo() const;

 private:
  // Written once by Attach, before attached_ is set (release); read after seeing attached_ (acquire).
  inference::Engine* engine_ = nullptr;
  EngineMetrics* metrics_ = nullptr;
  ServiceOptions options_;
  std::atomic<bool> attached_{false};
  std::atomic<bool> ready_{false};
};

}  // namespace generation
