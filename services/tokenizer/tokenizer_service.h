// The Tokenizer gRPC service (awqserve.v1.Tokenizer, callback API): request validation and the mapping between
// the proto messages and the tokenizer library. Every bad request is INVALID_ARGUMENT naming the field and the
// limit; nothing about one request affects another.
//
// Ownership: borrows the Tokenizer and the metrics registry, which must outlive the service.
// Thread-safety: all methods are called concurrently by gRPC; the service keeps no per-call state outside the
// reactors (one DecodeStreamReactor, with its own IncrementalDecoder, per stream).
//
//   services::ServiceHost host(opts);
//   TokenizerService svc(tok.get(), TokenizerLimits{.max_text_bytes = 1 << 20}, &host.metrics().registry());
//   host.AddService(&svc, awqserve::v1::Tokenizer::service_full_name());
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdint>

#include "absl/status/status.h"
#include "awqserve/v1/tokenizer.grpc.pb.h"
#include "tokenizer/tokenizer.h"

namespace tokenizer_service {

struct TokenizerLimits {
  // Bytes of one input's text (all of its segments together). Default 1 MiB.
  int64_t max_text_bytes = 1 << 20;
  // Inputs per EncodeRequest (the proto's documented limit).
  int max_inputs = 1024;
  // Ids per DecodeRequest (the proto's documented limit: 1,048,576).
  int max_decode_ids = 1 << 20;
  // Ids per TokenTextsRequest (the proto's documented limit: 65,536).
  int max_token_text_ids = 1 << 16;
};

struct TokenizerMetrics {
  prometheus::Counter* encoded_tokens;   // awqserve_tokenizer_encoded_tokens_total
  prometheus::Counter* decoded_tokens;   // awqserve_tokenizer_decoded_tokens_total
  prometheus::Gauge* active_streams;     // awqserve_tokenizer_decode_streams_active
};

// Encode takes raw bytes so that a string with invalid UTF-8 (which protobuf refuses to parse) still gets an
// INVALID_ARGUMENT naming the field (encode_request_utf8.h); the other methods use the generated types.
class TokenizerService
    : public awqserve::v1::Tokenizer::WithRawCallbackMethod_Encode<awqserve::v1::Tokenizer::CallbackService> {
 public:
  TokenizerService(const tokenizer::Tokenizer* tok, TokenizerLimits limits, prometheus::Registry* registry);

  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context, const awqserve::v1::DecodeRequest* request,
                                   awqserve::v1::DecodeResponse* response) override;
  grpc::ServerBidiReactor<awqserve::v1::DecodeStreamRequest, awqserve::v1::DecodeStreamResponse>* DecodeStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const awqserve::v1::TokenizerInfoRequest* request,
                                 awqserve::v1::TokenizerInfo* response) override;
  grpc::ServerUnaryReactor* TokenTexts(grpc::CallbackServerContext* context,
                                       const awqserve::v1::TokenTextsRequest* request,
                                       awqserve::v1::TokenTextsResponse* response) override;

  // The handlers' logic without gRPC, for direct tests.
  [[nodiscard]] absl::Status DoEncode(const awqserve::v1::EncodeRequest& request,
                                      awqserve::v1::EncodeResponse* response) const;
  [[nodiscard]] absl::Status DoDecode(const awqserve::v1::DecodeRequest& request,
                                      awqserve::v1::DecodeResponse* response) const;
  [[nodiscard]] absl::Status DoTokenTexts(const awqserve::v1::TokenTextsRequest& request,
                                          awqserve::v1::TokenTextsResponse* response) const;

 private:
  const tokenizer::Tokenizer* tok_;
  const TokenizerLimits limits_;
  TokenizerMetrics metrics_;
};

}  // namespace tokenizer_service
