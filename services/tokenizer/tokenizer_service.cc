#include "services/tokenizer/tokenizer_service.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "services/common/status.h"
#include "services/tokenizer/decode_stream_reactor.h"
#include "services/tokenizer/encode_request_utf8.h"

namespace tokenizer_service {
namespace {

namespace v1 = awqserve::v1;

absl::Status TextTooLong(const std::string& field, int64_t bytes, int64_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", bytes, " bytes, the limit is ", limit, " (--max_text_bytes)"));
}

// Prefixes a library error with the request field it concerns: "inputs[2]." + "segments[0].text: ...".
absl::Status InField(const std::string& prefix, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

}  // namespace

TokenizerService::TokenizerService(const tokenizer::Tokenizer* tok, TokenizerLimits limits,
                                   prometheus::Registry* registry)
    : tok_(tok), limits_(limits) {
  metrics_.encoded_tokens = &prometheus::BuildCounter()
                                 .Name("awqserve_tokenizer_encoded_tokens_total")
                                 .Help("Token ids produced by Encode (BOS included)")
                                 .Register(*registry)
                                 .Add({});
  metrics_.decoded_tokens = &prometheus::BuildCounter()
                                 .Name("awqserve_tokenizer_decoded_tokens_total")
                                 .Help("Token ids turned into text by Decode and DecodeStream")
                                 .Register(*registry)
                                 .Add({});
  metrics_.active_streams = &prometheus::BuildGauge()
                                 .Name("awqserve_tokenizer_decode_streams_active")
                                 .Help("DecodeStream calls currently open")
                                 .Register(*registry)
                                 .Add({});
}

absl::Status TokenizerService::DoEncode(const v1::EncodeRequest& request, v1::EncodeResponse* response) const {
  if (request.inputs_size() == 0) return absl::InvalidArgumentError("inputs: at least one input is required");
  if (request.inputs_size() > limits_.max_inputs) {
    return absl::InvalidArgumentError(
        absl::StrCat("inputs: ", request.inputs_size(), " inputs, the limit is ", limits_.max_inputs));
  }
  const bool add_bos = request.has_add_bos() ? request.add_bos() : true;
  double tokens = 0;
  for (int i = 0; i < request.inputs_size(); ++i) {
    const v1::EncodeInput& input = request.inputs(i);
    const std::string field = absl::StrCat("inputs[", i, "]");
    absl::StatusOr<std::vector<int>> ids;
    if (input.segments_size() > 0) {
      if (!input.text().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": set either text or segments, not both"));
      }
      int64_t bytes = 0;
      std::vector<tokenizer::Segment> segments;
      segments.reserve(input.segments_size());
      for (const v1::PromptSegment& seg : input.segments()) {
        bytes += static_cast<int64_t>(seg.text().size());
        segments.push_back({seg.text(), seg.trusted()});
      }
      if (bytes > limits_.max_text_bytes) {
        return TextTooLong(absl::StrCat(field, ".segments"), bytes, limits_.max_text_bytes);
      }
      ids = tok_->EncodeSegments(segments, add_bos, request.parse_special());
      if (!ids.ok()) return InField(field + ".", ids.status());
    } else {
      const int64_t bytes = static_cast<int64_t>(input.text().size());
      if (bytes > limits_.max_text_bytes) return TextTooLong(field + ".text", bytes, limits_.max_text_bytes);
      ids = tok_->Encode(input.text(), add_bos, request.parse_special());
      if (!ids.ok()) return InField(field + ".text: ", ids.status());
    }
    v1::TokenIds* out = response->add_results();
    out->mutable_ids()->Add(ids->begin(), ids->end());
    tokens += static_cast<double>(ids->size());
  }
  metrics_.encoded_tokens->Increment(tokens);
  return absl::OkStatus();
}

absl::Status TokenizerService::DoDecode(const v1::DecodeRequest& request, v1::DecodeResponse* response) const {
  if (request.ids_size() > limits_.max_decode_ids) {
    return absl::InvalidArgumentError(
        absl::StrCat("ids: ", request.ids_size(), " ids, the limit is ", limits_.max_decode_ids));
  }
  ASSIGN_OR_RETURN(*response->mutable_text(), tok_->Decode(request.ids(), request.skip_special_tokens()));
  metrics_.decoded_tokens->Increment(static_cast<double>(request.ids_size()));
  return absl::OkStatus();
}

absl::Status TokenizerService::DoTokenTexts(const v1::TokenTextsRequest& request,
                                            v1::TokenTextsResponse* response) const {
  if (request.ids_size() > limits_.max_token_text_ids) {
    return absl::InvalidArgumentError(
        absl::StrCat("ids: ", request.ids_size(), " ids, the limit is ", limits_.max_token_text_ids));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> texts, tok_->TokenTexts(request.ids()));
  for (std::string& text : texts) response->add_texts(std::move(text));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* TokenizerService::Encode(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  v1::EncodeRequest parsed;
  grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request));
  if (!parsed.ParseFromZeroCopyStream(&reader)) {
    std::vector<grpc::Slice> slices;
    std::string wire;
    if (request->Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) wire.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    return services::FinishUnary(context, DiagnoseEncodeRequest(wire));
  }
  v1::EncodeResponse reply;
  absl::Status status = DoEncode(parsed, &reply);
  if (status.ok()) {
    bool own_buffer;
    const grpc::Status s = grpc::SerializationTraits<v1::EncodeResponse>::Serialize(reply, response, &own_buffer);
    if (!s.ok()) status = absl::InternalError(absl::StrCat("Encode: cannot serialize the reply: ", s.error_message()));
  }
  return services::FinishUnary(context, status);
}

grpc::ServerUnaryReactor* TokenizerService::Decode(grpc::CallbackServerContext* context,
                                                   const v1::DecodeRequest* request, v1::DecodeResponse* response) {
  absl::Status status = DoDecode(*request, response);
  if (!status.ok()) response->Clear();
  return services::FinishUnary(context, status);
}

grpc::ServerUnaryReactor* TokenizerService::TokenTexts(grpc::CallbackServerContext* context,
                                                       const v1::TokenTextsRequest* request,
                                                       v1::TokenTextsResponse* response) {
  absl::Status status = DoTokenTexts(*request, response);
  if (!status.ok()) response->Clear();
  return services::FinishUnary(context, status);
}

grpc::ServerBidiReactor<v1::DecodeStreamRequest, v1::DecodeStreamResponse>* TokenizerService::DecodeStream(
    grpc::CallbackServerContext* context) {
  return new DecodeStreamReactor(tok_, metrics_.decoded_tokens, metrics_.active_streams);
}

grpc::ServerUnaryReactor* TokenizerService::Info(grpc::CallbackServerContext* context,
                                                 const v1::TokenizerInfoRequest* request,
                                                 v1::TokenizerInfo* response) {
  response->set_vocab_size(tok_->vocab_size());
  response->set_bos_id(tok_->bos_id());
  response->set_eos_id(tok_->eos_id());
  response->set_unk_id(tok_->unk_id());
  response->set_pad_id(tok_->pad_id());
  response->set_bos_token(tok_->config().bos_token);
  response->set_eos_token(tok_->config().eos_token);
  response->set_unk_token(tok_->config().unk_token);
  response->set_model_dir(tok_->model_dir());
  return services::FinishUnary(context, absl::OkStatus());
}

}  // namespace tokenizer_service
