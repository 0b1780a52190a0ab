#include "services/gateway/gateway_service.h"

#include <chrono>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/status.h"

namespace gateway {
namespace {

using awqserve::v1::TextGenerationResponse;
using Clock = std::chrono::steady_clock;

// How often the gateway asks Generation.Info until it answers, and how long one attempt may take.
constexpr auto kInfoRetryInterval = std::chrono::milliseconds(200);
constexpr auto kInfoTimeout = std::chrono::seconds(2);

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A streaming call: the worker posts messages, the reactor writes them one at a time.
class StreamCall final : public grpc::ServerWriteReactor<TextGenerationResponse> {
 public:
  StreamCall(GatewayService* service, grpc::CallbackServerContext* ctx, PipelineInput input, const char* method)
      : service_(service), metrics_(service->MetricsFor(method)), input_(input) {
    input_.deadline = ctx->deadline();
    worker_ = std::thread([this] {
      absl::Status s = service_->Run(input_, &control_, [this](TextGenerationResponse&& m) { Post(std::move(m)); });
      PostFinish(services::ToGrpcStatus(s));
    });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
    if (!ok) {  // the client is gone: nothing more will be written
      client_gone_ = true;
      queue_.clear();
      control_.CancelAll();
    }
    if (!queue_.empty()) {
      StartWrite(&queue_.front());
      return;
    }
    writing_ = false;
    if (final_status_) Finish(*final_status_);
  }

  void OnCancel() override { control_.CancelAll(); }

  void OnDone() override {
    worker_.join();
    delete this;
  }

 private:
  void Post(TextGenerationResponse&& m) {
    if (metrics_ != nullptr && !m.text().empty()) {
      Clock::time_point now = Clock::now();
      if (!last_text_) {
        metrics_->ttft->Observe(std::chrono::duration<double>(now - arrival_).count());
      } else {
        metrics_->inter_token->Observe(std::chrono::duration<double>(now - *last_text_).count());
      }
      last_text_ = now;
    }
    absl::MutexLock lock(&mu_);
    if (client_gone_) return;
    queue_.push_back(std::move(m));  // deque: the element being written keeps its address
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void PostFinish(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    final_status_ = std::move(status);
    if (!writing_) Finish(*final_status_);
  }

  GatewayService* service_;
  GatewayMetrics::Method* metrics_;
  PipelineInput input_;
  const Clock::time_point arrival_ = Clock::now();
  std::optional<Clock::time_point> last_text_;  // worker thread only
  CallControl control_;
  absl::Mutex mu_;
  std::deque<TextGenerationResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

// A unary call: the same pipeline, its messages merged into one response.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(GatewayService* service, grpc::CallbackServerContext* ctx, PipelineInput input,
            TextGenerationResponse* response, const char* method)
      : service_(service), metrics_(service->MetricsFor(method)), input_(input), response_(response) {
    input_.deadline = ctx->deadline();
    worker_ = std::thread([this] {
      absl::Status s = service_->Run(input_, &control_, [this](TextGenerationResponse&& m) { Merge(std::move(m)); });
      if (s.ok() && metrics_ != nullptr) metrics_->ttft->Observe(SecondsSince(arrival_));
      Finish(services::ToGrpcStatus(s));
    });
  }

  void OnCancel() override { control_.CancelAll(); }
  void OnDone() override {
    worker_.join();
    delete this;
  }

 private:
  void Merge(TextGenerationResponse&& m) {
    response_->mutable_text()->append(m.text());
    response_->mutable_token_ids()->MergeFrom(m.token_ids());
    response_->mutable_logprobs()->MergeFrom(m.logprobs());
    response_->mutable_prompt_token_ids()->MergeFrom(m.prompt_token_ids());
    if (m.finish_reason() != awqserve::v1::FINISH_REASON_UNSPECIFIED) {
      response_->set_finish_reason(m.finish_reason());
      *response_->mutable_stop_reason() = m.stop_reason();
      *response_->mutable_usage() = m.usage();
    }
  }

  GatewayService* service_;
  GatewayMetrics::Method* metrics_;
  PipelineInput input_;
  TextGenerationResponse* response_;
  const Clock::time_point arrival_ = Clock::now();
  CallControl control_;
  std::thread worker_;
};

}  // namespace

GatewayService::GatewayService(Downstream downstream, GatewayMetrics* metrics)
    : downstream_(std::move(downstream)), metrics_(metrics) {}

GatewayService::~GatewayService() {
  stopping_ = true;
  if (info_thread_.joinable()) info_thread_.join();
}

void GatewayService::Start(std::function<void()> on_ready) {
  info_thread_ = std::thread([this, on_ready = std::move(on_ready)] { PollInfo(on_ready); });
}

void GatewayService::PollInfo(std::function<void()> on_ready) {
  while (!stopping_) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kInfoTimeout);
    awqserve::v1::GenerationInfo info;
    grpc::Status s = downstream_.generation->Info(&ctx, awqserve::v1::GenerationInfoRequest(), &info);
    if (s.ok()) {
      auto model = std::make_shared<const ModelInfo>(ToModelInfo(info));
      metrics_->SetModel(model->model);
      {
        absl::MutexLock lock(&mu_);
        info_ = std::move(model);
      }
      if (on_ready) on_ready();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      info_error_ = s.error_message();
    }
    std::this_thread::sleep_for(kInfoRetryInterval);
  }
}

absl::Status GatewayService::Run(const PipelineInput& input, CallControl* control, const SendFn& send) {
  std::shared_ptr<const ModelInfo> info;
  {
    absl::MutexLock lock(&mu_);
    info = info_;
    if (info == nullptr) {
      return absl::UnavailableError(absl::StrCat("generation service (", downstream_.generation_addr,
                                                 ") has not answered Info yet: ", info_error_));
    }
  }
  return RunPipeline(downstream_, *info, input, control, send);
}

grpc::ServerWriteReactor<TextGenerationResponse>* GatewayService::Chat(grpc::CallbackServerContext* ctx,
                                                                      const awqserve::v1::ChatRequest* request) {
  return new StreamCall(this, ctx, PipelineInput{request, nullptr, {}}, "Chat");
}

grpc::ServerWriteReactor<TextGenerationResponse>* GatewayService::Complete(
    grpc::CallbackServerContext* ctx, const awqserve::v1::CompleteRequest* request) {
  return new StreamCall(this, ctx, PipelineInput{nullptr, request, {}}, "Complete");
}

grpc::ServerUnaryReactor* GatewayService::ChatUnary(grpc::CallbackServerContext* ctx,
                                                    const awqserve::v1::ChatRequest* request,
                                                    TextGenerationResponse* response) {
  return new UnaryCall(this, ctx, PipelineInput{request, nullptr, {}}, response, "ChatUnary");
}

grpc::ServerUnaryReactor* GatewayService::CompleteUnary(grpc::CallbackServerContext* ctx,
                                                        const awqserve::v1::CompleteRequest* request,
                                                        TextGenerationResponse* response) {
  return new UnaryCall(this, ctx, PipelineInput{nullptr, request, {}}, response, "CompleteUnary");
}

}  // namespace gateway
