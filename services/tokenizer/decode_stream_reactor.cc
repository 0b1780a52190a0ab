#include "services/tokenizer/decode_stream_reactor.h"

#include "absl/strings/str_cat.h"
#include "services/common/status.h"

namespace tokenizer_service {

DecodeStreamReactor::DecodeStreamReactor(const tokenizer::Tokenizer* tok, prometheus::Counter* decoded_tokens,
                                         prometheus::Gauge* active_streams)
    : tok_(tok),
      decoded_tokens_(decoded_tokens),
      active_streams_(active_streams),
      decoder_(tok->NewDecoder(/*skip_special=*/false)) {
  active_streams_->Increment();
  StartRead(&request_);
}

void DecodeStreamReactor::OnReadDone(bool ok) {
  response_.Clear();
  if (!ok) {
    // The client is done sending (or the call is gone): settle what is held back.
    decoder_.Flush(response_.mutable_text());
    if (response_.text().empty()) {
      Finish(grpc::Status::OK);
      return;
    }
    last_write_ = true;
    StartWrite(&response_);
    return;
  }
  if (messages_read_ == 0 && request_.skip_special_tokens()) decoder_ = tok_->NewDecoder(/*skip_special=*/true);
  const int64_t message = messages_read_++;
  const absl::Status status = decoder_.Feed(request_.ids(), response_.mutable_text());
  if (!status.ok()) {
    Finish(services::ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("message ", message, ": ", status.message()))));
    return;
  }
  decoded_tokens_->Increment(static_cast<double>(request_.ids_size()));
  StartWrite(&response_);
}

void DecodeStreamReactor::OnWriteDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "DecodeStream: the client stopped receiving"));
    return;
  }
  if (last_write_) {
    Finish(grpc::Status::OK);
    return;
  }
  StartRead(&request_);
}

void DecodeStreamReactor::OnDone() {
  active_streams_->Decrement();
  delete this;
}

}  // namespace tokenizer_service
