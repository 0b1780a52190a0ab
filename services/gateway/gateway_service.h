// awqserve.v1.TextGeneration: Chat and Complete (server-streaming) and their unary forms.
//
// One reactor per RPC (gRPC callback API). Each call runs its pipeline (text_pipeline.h) on a worker thread of its
// own with blocking downstream calls; the reactor keeps one write in flight and queues the rest. A client cancel
// (OnCancel, also raised when the deadline passes) cancels every downstream call of that call; other calls go on.
//
// The service needs the model's facts from Generation.Info (context length, max_tokens cap, model name) and every
// token's text from Tokenizer.TokenTexts (the text of logprob entries): a background thread asks until both have
// answered; until then calls fail with UNAVAILABLE, and `on_ready` runs once when they have (the gateway's
// readiness).
//
// Thread-safety: the RPC methods are called concurrently by gRPC; all shared state is behind mu_.
//
//   GatewayService service(ConnectDownstream(t, k, g), &metrics);
//   service.Start([&] { health.SetReady(true); });
//   builder.RegisterService(&service);
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "awqserve/v1/gateway.grpc.pb.h"
#include "services/gateway/call_control.h"
#include "services/gateway/downstream.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/text_pipeline.h"

namespace gateway {

// The four methods take their requests as raw bytes: a request protobuf refuses (a string that is not UTF-8) is
// answered INVALID_ARGUMENT naming the field (wire_diagnosis.h) instead of gRPC's bare error.
using TextGenerationRawService = awqserve::v1::TextGeneration::WithRawCallbackMethod_Chat<
    awqserve::v1::TextGeneration::WithRawCallbackMethod_Complete<
        awqserve::v1::TextGeneration::WithRawCallbackMethod_ChatUnary<
            awqserve::v1::TextGeneration::WithRawCallbackMethod_CompleteUnary<
                awqserve::v1::TextGeneration::CallbackService>>>>;

class GatewayService final : public TextGenerationRawService {
 public:
  GatewayService(Downstream downstream, GatewayMetrics* metrics);
  ~GatewayService() override;

  // Starts asking Generation.Info and Tokenizer.TokenTexts (every kInfoRetryInterval) until both answer; then
  // prints "awqserve-gateway: serving MODEL (context N tokens); ready" and calls on_ready once.
  void Start(std::function<void()> on_ready);

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Chat(grpc::CallbackServerContext* ctx,
                                                   const grpc::ByteBuffer* request) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Complete(grpc::CallbackServerContext* ctx,
                                                       const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* ChatUnary(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CompleteUnary(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

  // Runs one call's pipeline (used by the reactors, on their worker threads).
  absl::Status Run(const PipelineInput& input, CallControl* control, const SendFn& send);
  GatewayMetrics::Method* MetricsFor(const std::string& method) { return metrics_->ForMethod(method); }

 private:
  void PollInfo(std::function<void()> on_ready);
  // Generation.Info, then Tokenizer.TokenTexts of the whole vocabulary; UNAVAILABLE naming what failed.
  absl::StatusOr<ModelInfo> FetchModelInfo() const;

  const Downstream downstream_;
  GatewayMetrics* metrics_;
  absl::Mutex mu_;
  std::shared_ptr<const ModelInfo> info_ ABSL_GUARDED_BY(mu_);
  std::string info_error_ ABSL_GUARDED_BY(mu_) = "the gateway has not asked generation for Info yet";
  std::atomic<bool> stopping_{false};
  std::thread info_thread_;
};

}  // namespace gateway
