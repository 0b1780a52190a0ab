#include "services/gateway/generation_feed.h"

#include <utility>

namespace gateway {

GenerationFeed::GenerationFeed(awqserve::v1::Generation::Stub* stub, grpc::ClientContext* ctx,
                               const awqserve::v1::GenerateRequest& request)
    : ctx_(ctx) {
  std::unique_ptr<grpc::ClientReader<awqserve::v1::GenerateResponse>> reader = stub->Generate(ctx, request);
  reader_ = std::thread([this, r = std::move(reader)]() mutable { ReadAll(std::move(r)); });
}

GenerationFeed::~GenerationFeed() {
  bool ended;
  {
    absl::MutexLock lock(&mu_);
    ended = ended_;
  }
  if (!ended) ctx_->TryCancel();
  reader_.join();
}

void GenerationFeed::ReadAll(std::unique_ptr<grpc::ClientReader<awqserve::v1::GenerateResponse>> reader) {
  awqserve::v1::GenerateResponse m;
  while (reader->Read(&m)) {
    absl::MutexLock lock(&mu_);
    if (!has_queued_) {
      queued_ = std::move(m);
      has_queued_ = true;
    } else {
      queued_.mutable_ids()->MergeFrom(m.ids());
      queued_.mutable_logprobs()->MergeFrom(m.logprobs());
      if (m.finish_reason() != awqserve::v1::FINISH_REASON_UNSPECIFIED) {
        queued_.set_finish_reason(m.finish_reason());
        *queued_.mutable_stop_reason() = m.stop_reason();
        *queued_.mutable_usage() = m.usage();
      }
    }
    m.Clear();
  }
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  status_ = std::move(status);
  ended_ = true;
}

bool GenerationFeed::Take(awqserve::v1::GenerateResponse* out) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](GenerationFeed* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu_) { return f->has_queued_ || f->ended_; }, this));
  if (!has_queued_) return false;
  *out = std::move(queued_);
  queued_.Clear();
  has_queued_ = false;
  return true;
}

grpc::Status GenerationFeed::status() {
  absl::MutexLock lock(&mu_);
  return status_;
}

}  // namespace gateway
