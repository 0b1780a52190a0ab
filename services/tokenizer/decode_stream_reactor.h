// One DecodeStream call: ids in, text deltas out, one IncrementalDecoder per stream.
//
// Flow (strictly alternating, so one read or one write is in flight, never both, and no two reactions of this
// reactor run at the same time): read a message -> feed its ids -> write one delta (possibly empty) -> read again.
// When the client half-closes, the decoder is flushed; a non-empty remainder (an unfinished character, as
// U+FFFD) goes out as one last message, then OK. A bad id ends the stream with INVALID_ARGUMENT naming the message
// and the id. A failed write or a cancelled call ends it with CANCELLED.
//
// Ownership: gRPC holds the reactor from DecodeStream until OnDone, where it deletes itself. It borrows the
// Tokenizer and the metrics, which outlive the server.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <grpcpp/grpcpp.h>

#include "awqserve/v1/tokenizer.grpc.pb.h"
#include "tokenizer/tokenizer.h"

namespace tokenizer_service {

class DecodeStreamReactor
    : public grpc::ServerBidiReactor<awqserve::v1::DecodeStreamRequest, awqserve::v1::DecodeStreamResponse> {
 public:
  DecodeStreamReactor(const tokenizer::Tokenizer* tok, prometheus::Counter* decoded_tokens,
                      prometheus::Gauge* active_streams);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  const tokenizer::Tokenizer* tok_;
  prometheus::Counter* decoded_tokens_;
  prometheus::Gauge* active_streams_;
  tokenizer::IncrementalDecoder decoder_;
  awqserve::v1::DecodeStreamRequest request_;
  awqserve::v1::DecodeStreamResponse response_;
  int64_t messages_read_ = 0;
  bool last_write_ = false;  // the flushed remainder is being written; finish after it
};

}  // namespace tokenizer_service
