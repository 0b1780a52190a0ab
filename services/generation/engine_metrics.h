// The generation service's engine metrics (docs/metrics.md, "Generation service"), all labelled model_name:
// gauges of running/waiting requests and KV use (refreshed from Engine::Stats by a poller thread), per-request
// histograms and counters (fed from each request's sink: TTFT, inter-token, e2e and queue time, prompt and
// generation tokens, outcomes, preemptions), and per-step batch size and duration (fed by MeteredBackend, which
// times each backend step: forward + sampling).
//
// Thread-safety: every method is thread-safe (prometheus-cpp series are). The poller holds a pointer to the engine:
// StopPolling (or the destructor) before the engine goes away.
//
//   EngineMetrics metrics(registry, "tiny-stories-awq");
//   auto backend = std::make_unique<MeteredBackend>(std::move(cpu_backend), &metrics);
//   ... engine ...
//   metrics.StartPolling(engine.get());
//   metrics.OnFinished(finished);   // from a request's on_finish
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "inference/engine/backend.h"
#include "inference/engine/engine.h"
#include "inference/engine/request.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace generation {

// Powers of two up to the largest batch the scheduler forms (docs/metrics.md kBatchSizeBuckets).
const prometheus::Histogram::BucketBoundaries& BatchSizeBuckets();

class EngineMetrics {
 public:
  EngineMetrics(prometheus::Registry& registry, const std::string& model_name);
  ~EngineMetrics();

  // Refreshes the gauges from engine->Stats() every kPollInterval until StopPolling.
  void StartPolling(const inference::Engine* engine);
  void StopPolling();

  // One generated token (not a stop token) of a request; `since_previous` is absent for its first token, which is
  // when its prefill has completed and its prompt tokens are counted.
  void OnToken(std::optional<std::chrono::duration<double>> since_previous, int32_t prompt_tokens);
  // A request's end: histograms from its timings, token counters, outcome, preemptions. A request whose only
  // token was a stop token has its prompt counted here; one cancelled before its prefill completed, never.
  void OnFinished(const inference::FinishedRequest& f, int32_t tokens_emitted);
  // One backend step.
  void OnStep(int batch_size, std::chrono::duration<double> duration);

 private:
  void Refresh(const inference::Engine& engine);

  prometheus::Gauge* running_;
  prometheus::Gauge* waiting_;
  prometheus::Gauge* kv_usage_;
  prometheus::Histogram* ttft_;
  prometheus::Histogram* inter_token_;
  prometheus::Histogram* e2e_;
  prometheus::Histogram* queue_time_;
  prometheus::Histogram* batch_size_;
  prometheus::Histogram* step_duration_;
  prometheus::Counter* prompt_tokens_;
  prometheus::Counter* generation_tokens_;
  prometheus::Counter* preemptions_;
  prometheus::Counter* finished_[inference::kNumFinishReasons] = {};

  std::atomic<bool> stop_{false};
  std::thread poller_;
};

// A Backend that forwards to another and reports each step's batch size and duration.
class MeteredBackend final : public inference::Backend {
 public:
  MeteredBackend(std::unique_ptr<inference::Backend> inner, EngineMetrics* metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}
  const inference::BackendInfo& info() const override { return inner_->info(); }
  [[nodiscard]] absl::Status Execute(const inference::StepBatch& batch, inference::StepResult* result) override;
  [[nodiscard]] absl::Status ExecuteLogits(const inference::StepBatch& batch,
                                           std::vector<std::vector<float>>* logits) override {
    return inner_->ExecuteLogits(batch, logits);
  }

 private:
  std::unique_ptr<inference::Backend> inner_;
  EngineMetrics* metrics_;
};

}  // namespace generation
