#include "services/gateway/downstream.h"

#include "absl/strings/str_cat.h"
#include "services/common/client_channel.h"
#include "services/common/status.h"

namespace gateway {

const char* ServiceName(Service s) {
  switch (s) {
    case Service::kTemplate: return "template";
    case Service::kTokenizer: return "tokenizer";
    case Service::kGeneration: return "generation";
  }
  return "?";
}

Downstream ConnectDownstream(const std::string& template_addr, const std::string& tokenizer_addr,
                             const std::string& generation_addr) {
  Downstream d;
  d.template_addr = template_addr;
  d.tokenizer_addr = tokenizer_addr;
  d.generation_addr = generation_addr;
  d.prompt_template = awqserve::v1::PromptTemplate::NewStub(services::MakeChannel(template_addr));
  d.tokenizer = awqserve::v1::Tokenizer::NewStub(services::MakeChannel(tokenizer_addr));
  d.generation = awqserve::v1::Generation::NewStub(services::MakeChannel(generation_addr));
  return d;
}

ModelInfo ToModelInfo(const awqserve::v1::GenerationInfo& info) {
  ModelInfo m;
  m.model = info.model();
  m.context_length = info.context_length();
  m.vocab_size = info.vocab_size();
  m.eos_token_ids.assign(info.eos_token_ids().begin(), info.eos_token_ids().end());
  if (info.max_tokens_cap() > 0) m.limits.max_tokens_cap = info.max_tokens_cap();
  return m;
}

absl::Status DownstreamError(Service service, const std::string& addr, const grpc::Status& s) {
  const std::string& msg = s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::InvalidArgumentError(service == Service::kTemplate ? absl::StrCat("messages: ", msg) : msg);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return absl::ResourceExhaustedError(absl::StrCat(ServiceName(service), ": ", msg));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(
          absl::StrCat("deadline exceeded while waiting for the ", ServiceName(service), " service"));
    case grpc::StatusCode::CANCELLED:
      return absl::CancelledError(absl::StrCat("cancelled (", ServiceName(service), " call): ", msg));
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(
          absl::StrCat(ServiceName(service), " service unavailable (", addr, "): ", msg));
    default:
      return absl::InternalError(absl::StrCat(ServiceName(service), " service failed (", addr, ") with ",
                                              services::GrpcCodeName(s.error_code()), ": ", msg));
  }
}

}  // namespace gateway
