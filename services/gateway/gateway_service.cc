#include "services/gateway/gateway_service.h"

#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "services/common/status.h"
#include "services/gateway/wire_diagnosis.h"

namespace gateway {
namespace {

using awqserve::v1::TextGenerationResponse;
using Clock = std::chrono::steady_clock;

// How often the gateway asks Generation.Info until it answers, and how long one attempt may take.
constexpr auto kInfoRetryInterval = std::chrono::milliseconds(200);
constexpr auto kInfoTimeout = std::chrono::seconds(2);

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The request of one call, parsed from its raw bytes.
struct Request {
  awqserve::v1::ChatRequest chat;
  awqserve::v1::CompleteRequest complete;
  bool is_chat = false;
  absl::Status parsed;  // INVALID_ARGUMENT naming the field when the bytes did not parse

  Request(const grpc::ByteBuffer* raw, bool chat_request) : is_chat(chat_request) {
    google::protobuf::Message& m = is_chat ? static_cast<google::protobuf::Message&>(chat) : complete;
    grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(raw));
    if (m.ParseFromZeroCopyStream(&reader)) return;
    std::vector<grpc::Slice> slices;
    std::string wire;
    if (raw->Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) wire.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    parsed = DiagnoseUnparsable(*m.GetDescriptor(), wire);
  }
  PipelineInput input(grpc::CallbackServerContext* ctx) const {
    return PipelineInput{is_chat ? &chat : nullptr, is_chat ? nullptr : &complete, ctx->deadline()};
  }
};

grpc::ByteBuffer Serialize(const TextGenerationResponse& m) {
  grpc::ByteBuffer buffer;
  bool own = false;
  grpc::Status s = grpc::SerializationTraits<TextGenerationResponse>::Serialize(m, &buffer, &own);
  AWQ_CHECK(s.ok());
  return buffer;
}

// A streaming call: the worker posts messages, the reactor writes them one at a time.
class StreamCall final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  StreamCall(GatewayService* service, grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw, bool chat,
             const char* method)
      : service_(service), metrics_(service->MetricsFor(method)), request_(raw, chat) {
    if (!request_.parsed.ok()) {
      PostFinish(services::ToGrpcStatus(request_.parsed));
      return;
    }
    const PipelineInput input = request_.input(ctx);
    worker_ = std::thread([this, input] {
      absl::Status s = service_->Run(input, &control_, [this](TextGenerationResponse&& m) { Post(std::move(m)); });
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
    if (worker_.joinable()) worker_.join();
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
    grpc::ByteBuffer buffer = Serialize(m);
    absl::MutexLock lock(&mu_);
    if (client_gone_) return;
    queue_.push_back(std::move(buffer));  // deque: the element being written keeps its address
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
  const Request request_;
  const Clock::time_point arrival_ = Clock::now();
  std::optional<Clock::time_point> last_text_;  // worker thread only
  CallControl control_;
  absl::Mutex mu_;
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;
};

// A unary call: the same pipeline, its messages merged into one response.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(GatewayService* service, grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* raw, bool chat,
            grpc::ByteBuffer* response, const char* method)
      : service_(service), metrics_(service->MetricsFor(method)), request_(raw, chat), response_(response) {
    if (!request_.parsed.ok()) {
      Finish(services::ToGrpcStatus(request_.parsed));
      return;
    }
    const PipelineInput input = request_.input(ctx);
    worker_ = std::thread([this, input] {
      absl::Status s = service_->Run(input, &control_, [this](TextGenerationResponse&& m) { Merge(std::move(m)); });
      if (s.ok()) {
        *response_ = Serialize(merged_);
        if (metrics_ != nullptr) metrics_->ttft->Observe(SecondsSince(arrival_));
      }
      Finish(services::ToGrpcStatus(s));
    });
  }

  void OnCancel() override { control_.CancelAll(); }
  void OnDone() override {
    if (worker_.joinable()) worker_.join();
    delete this;
  }

 private:
  void Merge(TextGenerationResponse&& m) {
    merged_.mutable_text()->append(m.text());
    merged_.mutable_token_ids()->MergeFrom(m.token_ids());
    merged_.mutable_logprobs()->MergeFrom(m.logprobs());
    merged_.mutable_prompt_token_ids()->MergeFrom(m.prompt_token_ids());
    if (m.finish_reason() != awqserve::v1::FINISH_REASON_UNSPECIFIED) {
      merged_.set_finish_reason(m.finish_reason());
      *merged_.mutable_stop_reason() = m.stop_reason();
      *merged_.mutable_usage() = m.usage();
    }
  }

  GatewayService* service_;
  GatewayMetrics::Method* metrics_;
  const Request request_;
  grpc::ByteBuffer* response_;
  TextGenerationResponse merged_;  // worker thread only
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
    absl::StatusOr<ModelInfo> model = FetchModelInfo();
    if (model.ok()) {
      auto shared = std::make_shared<const ModelInfo>(*std::move(model));
      metrics_->SetModel(shared->model);
      std::printf("awqserve-gateway: serving %s (context %u tokens); ready\n", shared->model.c_str(),
                  shared->context_length);
      std::fflush(stdout);
      {
        absl::MutexLock lock(&mu_);
        info_ = std::move(shared);
      }
      if (on_ready) on_ready();
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      info_error_ = std::string(model.status().message());
    }
    std::this_thread::sleep_for(kInfoRetryInterval);
  }
}

absl::StatusOr<ModelInfo> GatewayService::FetchModelInfo() const {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kInfoTimeout);
  awqserve::v1::GenerationInfo info;
  grpc::Status s = downstream_.generation->Info(&ctx, awqserve::v1::GenerationInfoRequest(), &info);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("generation service (", downstream_.generation_addr,
                                               ") has not answered Info yet: ", s.error_message()));
  }
  ModelInfo model = ToModelInfo(info);
  awqserve::v1::TokenTextsRequest request;
  for (int32_t id = 0; id < model.vocab_size; ++id) request.add_ids(id);
  awqserve::v1::TokenTextsResponse texts;
  grpc::ClientContext text_ctx;
  text_ctx.set_deadline(std::chrono::system_clock::now() + kInfoTimeout);
  s = downstream_.tokenizer->TokenTexts(&text_ctx, request, &texts);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat("tokenizer service (", downstream_.tokenizer_addr,
                                               ") has not answered TokenTexts yet: ", s.error_message()));
  }
  if (texts.texts_size() != model.vocab_size) {
    return absl::UnavailableError(absl::StrCat("tokenizer service (", downstream_.tokenizer_addr, ") returned ",
                                               texts.texts_size(), " token texts for a vocabulary of ",
                                               model.vocab_size, " (not the model's tokenizer?)"));
  }
  model.token_texts.assign(texts.texts().begin(), texts.texts().end());
  return model;
}

absl::Status GatewayService::Run(const PipelineInput& input, CallControl* control, const SendFn& send) {
  std::shared_ptr<const ModelInfo> info;
  {
    absl::MutexLock lock(&mu_);
    info = info_;
    if (info == nullptr) {
      return absl::UnavailableError(info_error_);
    }
  }
  return RunPipeline(downstream_, *info, input, control, send);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* GatewayService::Chat(grpc::CallbackServerContext* ctx,
                                                                 const grpc::ByteBuffer* request) {
  return new StreamCall(this, ctx, request, /*chat=*/true, "Chat");
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* GatewayService::Complete(grpc::CallbackServerContext* ctx,
                                                                     const grpc::ByteBuffer* request) {
  return new StreamCall(this, ctx, request, /*chat=*/false, "Complete");
}

grpc::ServerUnaryReactor* GatewayService::ChatUnary(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) {
  return new UnaryCall(this, ctx, request, /*chat=*/true, response, "ChatUnary");
}

grpc::ServerUnaryReactor* GatewayService::CompleteUnary(grpc::CallbackServerContext* ctx,
                                                        const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return new UnaryCall(this, ctx, request, /*chat=*/false, response, "CompleteUnary");
}

}  // namespace gateway
