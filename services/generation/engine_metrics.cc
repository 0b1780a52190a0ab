#include "services/generation/engine_metrics.h"

#include <map>

#include "services/common/metrics.h"

namespace generation {
namespace {

// Gauges are refreshed this often: well below any scrape interval, negligible next to an engine step.
constexpr auto kPollInterval = std::chrono::milliseconds(50);

double Seconds(inference::EngineClock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

const prometheus::Histogram::BucketBoundaries& BatchSizeBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  return kBuckets;
}

EngineMetrics::EngineMetrics(prometheus::Registry& r, const std::string& model_name) {
  const std::map<std::string, std::string> labels = {{"model_name", model_name}};
  const auto& lat = services::LatencyBucketsSeconds();
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add(labels);
  };
  auto histogram = [&](const char* name, const char* help, const prometheus::Histogram::BucketBoundaries& b) {
    return &prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add(labels, b);
  };
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add(labels);
  };
  running_ = gauge("awqserve_num_requests_running", "Requests in the running batch");
  waiting_ = gauge("awqserve_num_requests_waiting", "Requests accepted and waiting to be scheduled");
  kv_usage_ = gauge("awqserve_kv_cache_usage_perc", "KV cache blocks in use / all KV blocks (0-1)");
  ttft_ = histogram("awqserve_time_to_first_token_seconds", "Arrival at the engine to the first generated token",
                    lat);
  inter_token_ = histogram("awqserve_inter_token_latency_seconds", "Time between two tokens of one request", lat);
  e2e_ = histogram("awqserve_e2e_request_latency_seconds", "Arrival to the request finishing", lat);
  queue_time_ = histogram("awqserve_request_queue_time_seconds", "Arrival to first scheduled", lat);
  batch_size_ = histogram("awqserve_batch_size", "Sequences in one engine step", BatchSizeBuckets());
  step_duration_ = histogram("awqserve_engine_step_duration_seconds", "Wall time of one backend step", lat);
  prompt_tokens_ = counter("awqserve_prompt_tokens_total", "Prompt tokens, counted when a request's prefill completes");
  generation_tokens_ = counter("awqserve_generation_tokens_total", "Tokens generated (stop tokens included)");
  preemptions_ = counter("awqserve_num_preemptions_total", "Running requests preempted");
  auto& finished = prometheus::BuildCounter()
                       .Name("awqserve_request_success_total")
                       .Help("Requests finished, by finished_reason")
                       .Register(r);
  for (auto reason : {inference::FinishReason::kStop, inference::FinishReason::kLength,
                      inference::FinishReason::kCancelled, inference::FinishReason::kError}) {
    finished_[static_cast<int>(reason)] =
        &finished.Add({{"model_name", model_name}, {"finished_reason", inference::FinishReasonName(reason)}});
  }
}

EngineMetrics::~EngineMetrics() { StopPolling(); }

void EngineMetrics::StartPolling(const inference::Engine* engine) {
  poller_ = std::thread([this, engine] {
    while (!stop_) {
      Refresh(*engine);
      std::this_thread::sleep_for(kPollInterval);
    }
  });
}

void EngineMetrics::StopPolling() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
}

void EngineMetrics::Refresh(const inference::Engine& engine) {
  inference::EngineStats s = engine.Stats();
  running_->Set(s.running);
  waiting_->Set(s.waiting);
  kv_usage_->Set(s.kv_usage);
}

void EngineMetrics::OnToken(std::optional<std::chrono::duration<double>> since_previous, int32_t prompt_tokens) {
  generation_tokens_->Increment();
  if (since_previous) {
    inter_token_->Observe(since_previous->count());
  } else {
    prompt_tokens_->Increment(prompt_tokens);
  }
}

void EngineMetrics::OnFinished(const inference::FinishedRequest& f, int32_t tokens_emitted) {
  const inference::RequestTimings& t = f.timings;
  const inference::EngineClock::time_point unset{};
  if (t.first_token != unset) ttft_->Observe(Seconds(t.first_token - t.arrival));
  if (t.admitted != unset) queue_time_->Observe(Seconds(t.admitted - t.arrival));
  if (t.finished != unset) e2e_->Observe(Seconds(t.finished - t.arrival));
  // Emitted tokens were counted one by one; the stop token, never emitted, is counted here.
  if (f.completion_tokens > tokens_emitted) generation_tokens_->Increment(f.completion_tokens - tokens_emitted);
  if (tokens_emitted == 0 && f.completion_tokens > 0) prompt_tokens_->Increment(f.prompt_tokens);
  preemptions_->Increment(f.preemptions);
  prometheus::Counter* c = finished_[static_cast<int>(f.reason)];
  if (c != nullptr) c->Increment();
}

void EngineMetrics::OnStep(int batch_size, std::chrono::duration<double> duration) {
  batch_size_->Observe(batch_size);
  step_duration_->Observe(duration.count());
}

absl::Status MeteredBackend::Execute(const inference::StepBatch& batch, inference::StepResult* result) {
  auto start = std::chrono::steady_clock::now();
  absl::Status s = inner_->Execute(batch, result);
  metrics_->OnStep(static_cast<int>(batch.seqs.size()), std::chrono::steady_clock::now() - start);
  return s;
}

}  // namespace generation
