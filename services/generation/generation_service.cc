#include "services/generation/generation_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "base/status_macros.h"
#include "services/common/status.h"
#include "services/generation/sampling_proto.h"

namespace generation {
namespace {

using awqserve::v1::GenerateResponse;
using Clock = std::chrono::steady_clock;

// GenerateRequest.request_id: at most this many bytes (generation.proto).
constexpr size_t kMaxRequestIdBytes = 128;
// How long the warm-up step may take (a 7B model's first step includes CUDA graph capture and cuBLAS set-up).
constexpr auto kWarmUpTimeout = std::chrono::minutes(5);

awqserve::v1::FinishReason ToProto(inference::FinishReason r) {
  switch (r) {
    case inference::FinishReason::kStop: return awqserve::v1::FINISH_REASON_STOP;
    case inference::FinishReason::kLength: return awqserve::v1::FINISH_REASON_LENGTH;
    case inference::FinishReason::kCancelled: return awqserve::v1::FINISH_REASON_CANCELLED;
    case inference::FinishReason::kError: return awqserve::v1::FINISH_REASON_ERROR;
    case inference::FinishReason::kNone: break;
  }
  return awqserve::v1::FINISH_REASON_UNSPECIFIED;
}

void AppendToken(const inference::GeneratedToken& t, GenerateResponse* m) {
  m->add_ids(t.id);
  if (!t.has_logprobs) return;
  awqserve::v1::TokenLogprobs* lp = m->add_logprobs();
  lp->mutable_chosen()->set_id(t.id);
  lp->mutable_chosen()->set_logprob(t.logprob);
  for (const auto& [id, logprob] : t.top) {
    awqserve::v1::TokenLogprob* e = lp->add_top();
    e->set_id(id);
    e->set_logprob(logprob);
  }
}

// One Generate call. Three parties hold it: gRPC (until OnDone), the engine (until on_finish) and the starting
// thread (until Start returns); the last to let go deletes it.
class GenerateCall final : public grpc::ServerWriteReactor<GenerateResponse> {
 public:
  GenerateCall(inference::Engine* engine, EngineMetrics* metrics) : engine_(engine), metrics_(metrics) {}

  void Start(absl::StatusOr<inference::EngineRequest> request) {
    if (request.ok()) {
      prompt_tokens_ = static_cast<int32_t>(request->prompt.size());
      inference::RequestSink sink;
      sink.on_token = [this](const inference::GeneratedToken& t) { OnEngineToken(t); };
      sink.on_finish = [this](const inference::FinishedRequest& f) { OnEngineFinish(f); };
      absl::StatusOr<inference::RequestHandle> handle = engine_->Submit(std::move(*request), std::move(sink));
      if (handle.ok()) {
        bool cancel;
        {
          absl::MutexLock lock(&mu_);
          handle_ = *handle;
          cancel = cancel_wanted_;
        }
        if (cancel) engine_->Cancel(*handle);
        Release();  // the starter
        return;
      }
      request = handle.status();
    }
    // Refused: the engine never saw it.
    {
      absl::MutexLock lock(&mu_);
      PostFinishLocked(services::ToGrpcStatus(request.status()));
    }
    Release();  // the engine's share
    Release();  // the starter
  }

  void OnWriteDone(bool ok) override {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      queue_.pop_front();
      if (!ok && !client_gone_) {
        client_gone_ = true;
        queue_.clear();
        cancel = true;
      }
      if (!queue_.empty()) {
        StartWrite(&queue_.front());
      } else {
        writing_ = false;
        if (final_status_) FinishOnce();
      }
    }
    if (cancel) CancelEngine();
  }

  void OnCancel() override { CancelEngine(); }
  void OnDone() override { Release(); }

 private:
  void CancelEngine() {
    std::optional<inference::RequestHandle> h;
    {
      absl::MutexLock lock(&mu_);
      cancel_wanted_ = true;
      h = handle_;
    }
    if (h) engine_->Cancel(*h);
  }

  // Engine thread.
  void OnEngineToken(const inference::GeneratedToken& t) {
    Clock::time_point now = Clock::now();
    std::optional<std::chrono::duration<double>> gap;
    if (last_token_) gap = now - *last_token_;
    last_token_ = now;
    ++tokens_emitted_;
    metrics_->OnToken(gap, prompt_tokens_);

    absl::MutexLock lock(&mu_);
    if (client_gone_) return;
    // Only the message in flight is pinned; tokens arriving meanwhile go into one waiting message.
    if (queue_.size() >= 2) {
      AppendToken(t, &queue_.back());
      return;
    }
    GenerateResponse m;
    AppendToken(t, &m);
    Enqueue(std::move(m));
  }

  // Engine thread, exactly once, last.
  void OnEngineFinish(const inference::FinishedRequest& f) {
    metrics_->OnFinished(f, tokens_emitted_);
    {
      absl::MutexLock lock(&mu_);
      if (f.reason == inference::FinishReason::kError) {
        PostFinishLocked(services::ToGrpcStatus(f.error.ok() ? absl::InternalError("the engine failed the request")
                                                             : f.error));
      } else if (f.reason == inference::FinishReason::kCancelled) {
        PostFinishLocked(cancel_wanted_ ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")
                                        : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                       "the generation service is shutting down"));
      } else {
        GenerateResponse last;
        last.set_finish_reason(ToProto(f.reason));
        if (f.reason == inference::FinishReason::kStop && f.stop_token >= 0) {
          last.mutable_stop_reason()->set_token_id(f.stop_token);
        }
        last.mutable_usage()->set_prompt_tokens(f.prompt_tokens);
        last.mutable_usage()->set_completion_tokens(f.completion_tokens);
        last.mutable_usage()->set_total_tokens(f.prompt_tokens + f.completion_tokens);
        if (!client_gone_) {
          if (queue_.size() >= 2) {
            GenerateResponse& pending = queue_.back();
            pending.set_finish_reason(last.finish_reason());
            *pending.mutable_stop_reason() = last.stop_reason();
            *pending.mutable_usage() = last.usage();
          } else {
            Enqueue(std::move(last));
          }
        }
        PostFinishLocked(grpc::Status::OK);
      }
    }
    Release();
  }

  void Enqueue(GenerateResponse&& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    queue_.push_back(std::move(m));  // deque: the message in flight keeps its address
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void PostFinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    final_status_ = std::move(status);
    if (!writing_) FinishOnce();
  }

  void FinishOnce() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(*final_status_);
  }

  void Release() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      last = --refs_ == 0;
    }
    if (last) delete this;
  }

  inference::Engine* const engine_;
  EngineMetrics* const metrics_;
  // Engine thread only.
  std::optional<Clock::time_point> last_token_;
  int32_t tokens_emitted_ = 0;
  int32_t prompt_tokens_ = 0;  // set before Submit

  absl::Mutex mu_;
  int refs_ ABSL_GUARDED_BY(mu_) = 3;  // gRPC, engine, starter
  std::optional<inference::RequestHandle> handle_ ABSL_GUARDED_BY(mu_);
  bool cancel_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<GenerateResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

std::string QuantizationName(const inference::ModelConfig& m) {
  if (m.quant.method == inference::QuantMethod::kAwqGemm) {
    return absl::StrCat("awq-gemm-", m.quant.bits, "bit-g", m.quant.group_size);
  }
  return m.torch_dtype.empty() ? "float32" : m.torch_dtype;
}

}  // namespace

void GenerationService::Attach(inference::Engine* engine, EngineMetrics* metrics, ServiceOptions options) {
  engine_ = engine;
  metrics_ = metrics;
  options_ = std::move(options);
  attached_.store(true, std::memory_order_release);
}

absl::StatusOr<inference::EngineRequest> GenerationService::ToEngineRequest(
    const awqserve::v1::GenerateRequest& r) const {
  if (r.prompt_ids_size() == 0) return absl::InvalidArgumentError("prompt_ids: at least 1 id is required, got 0");
  if (r.max_tokens() < 1 || r.max_tokens() > options_.max_tokens_cap) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens: must be in [1, ", options_.max_tokens_cap, "], got ", r.max_tokens()));
  }
  if (r.request_id().size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("request_id: at most ", kMaxRequestIdBytes, " bytes, got ",
                                                   r.request_id().size()));
  }
  if (r.stop_token_ids_size() > engine_->limits().max_stop_ids) {
    return absl::InvalidArgumentError(absl::StrCat("stop_token_ids: at most ", engine_->limits().max_stop_ids,
                                                   " ids, got ", r.stop_token_ids_size()));
  }
  inference::EngineRequest e;
  ASSIGN_OR_RETURN(e.sampling,
                   SamplingFromProto(r.sampling(), r.logprobs(), "sampling", "logprobs", options_.model.vocab_size));
  e.prompt.assign(r.prompt_ids().begin(), r.prompt_ids().end());
  e.max_tokens = static_cast<int32_t>(r.max_tokens());
  e.stop_ids.assign(r.stop_token_ids().begin(), r.stop_token_ids().end());
  if (!r.ignore_eos()) {
    for (int eos : options_.model.eos_token_ids) {
      if (std::find(e.stop_ids.begin(), e.stop_ids.end(), eos) == e.stop_ids.end()) e.stop_ids.push_back(eos);
    }
  }
  return e;
}

awqserve::v1::GenerationInfo GenerationService::MakeInfo() const {
  awqserve::v1::GenerationInfo info;
  const inference::ModelConfig& m = options_.model;
  const inference::BackendInfo& b = engine_->backend_info();
  info.set_model(options_.model_name);
  info.set_architecture(m.architecture);
  info.set_context_length(m.max_position_embeddings);
  info.set_sliding_window(m.sliding_window);
  info.set_vocab_size(m.vocab_size);
  info.set_quantization(QuantizationName(m));
  info.set_backend(b.name);
  info.set_kv_block_count(b.kv.num_blocks);
  info.set_kv_block_size(b.kv.block_size);
  info.set_kv_capacity_tokens(static_cast<uint64_t>(b.kv.num_blocks) * b.kv.block_size);
  info.set_max_tokens_cap(options_.max_tokens_cap);
  info.set_max_queued_requests(engine_->config().max_queued_requests);
  info.set_max_batch_tokens(engine_->config().max_batch_tokens);
  for (int eos : m.eos_token_ids) info.add_eos_token_ids(eos);
  return info;
}

absl::Status GenerationService::WarmUp() {
  inference::EngineRequest r;
  r.prompt = {options_.model.bos_token_id};
  r.sampling.temperature = 0;
  r.max_tokens = 1;
  absl::Notification done;
  inference::FinishedRequest result;
  inference::RequestSink sink;
  sink.on_finish = [&](const inference::FinishedRequest& f) {
    result = f;
    done.Notify();
  };
  ASSIGN_OR_RETURN(inference::RequestHandle handle, engine_->Submit(std::move(r), std::move(sink)));
  (void)handle;
  if (!done.WaitForNotificationWithTimeout(absl::FromChrono(kWarmUpTimeout))) {
    return absl::DeadlineExceededError("warm-up: the engine did not finish one step in time");
  }
  if (result.reason == inference::FinishReason::kError) {
    return absl::InternalError(absl::StrCat("warm-up failed: ", result.error.message()));
  }
  return absl::OkStatus();
}

grpc::ServerWriteReactor<GenerateResponse>* GenerationService::Generate(grpc::CallbackServerContext* ctx,
                                                                       const awqserve::v1::GenerateRequest* r) {
  if (!attached_.load(std::memory_order_acquire)) {
    auto* call = new GenerateCall(nullptr, nullptr);  // refused before it reaches an engine
    call->Start(absl::UnavailableError("the generation service is loading its model"));
    return call;
  }
  auto* call = new GenerateCall(engine_, metrics_);
  if (!ready_) {
    call->Start(absl::UnavailableError("the generation service is not ready (loading, warming up or draining)"));
  } else {
    call->Start(ToEngineRequest(*r));
  }
  return call;
}

grpc::ServerUnaryReactor* GenerationService::Info(grpc::CallbackServerContext* ctx,
                                                  const awqserve::v1::GenerationInfoRequest*,
                                                  awqserve::v1::GenerationInfo* response) {
  if (!attached_.load(std::memory_order_acquire)) {
    return services::FinishUnary(ctx, absl::UnavailableError("the generation service is loading its model"));
  }
  *response = MakeInfo();
  return services::FinishUnary(ctx, absl::OkStatus());
}

}  // namespace generation
