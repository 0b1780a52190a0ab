// The gateway's view of the three services behind it: their stubs, what Generation.Info said about the model, and
// how a downstream failure is reported to the gateway's client.
//
// Thread-safety: stubs are thread-safe; a Downstream is built once at start-up and then only read. The ModelInfo
// is published once (after the first successful Generation.Info) through an atomic pointer.
//
//   Downstream d = ConnectDownstream(template_addr, tokenizer_addr, generation_addr);
//   grpc::Status s = d.tokenizer->Encode(&ctx, req, &resp);
//   if (!s.ok()) return DownstreamError(Service::kTokenizer, s);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "awqserve/v1/generation.grpc.pb.h"
#include "awqserve/v1/template.grpc.pb.h"
#include "awqserve/v1/tokenizer.grpc.pb.h"
#include "grpcpp/support/status.h"
#include "services/gateway/request_validation.h"

namespace gateway {

enum class Service { kTemplate, kTokenizer, kGeneration };
const char* ServiceName(Service s);  // "template", "tokenizer", "generation"

struct Downstream {
  std::string template_addr, tokenizer_addr, generation_addr;
  std::unique_ptr<awqserve::v1::PromptTemplate::Stub> prompt_template;
  std::unique_ptr<awqserve::v1::Tokenizer::Stub> tokenizer;
  std::unique_ptr<awqserve::v1::Generation::Stub> generation;
};

// Channels are created lazily by gRPC: this never fails, a service that is down shows up per call.
Downstream ConnectDownstream(const std::string& template_addr, const std::string& tokenizer_addr,
                             const std::string& generation_addr);

// What the gateway needs from Generation.Info, and every token's text from Tokenizer.TokenTexts (for logprobs).
struct ModelInfo {
  std::string model;
  uint32_t context_length = 0;
  int32_t vocab_size = 0;
  std::vector<int32_t> eos_token_ids;
  Limits limits;
  std::vector<std::string> token_texts;  // indexed by id, vocab_size entries
};
ModelInfo ToModelInfo(const awqserve::v1::GenerationInfo& info);

// A downstream call's failure as the gateway's client sees it:
//  - the codes a client caused or asked for pass through unchanged: INVALID_ARGUMENT (for the template: the
//    template's own message, prefixed "messages: "), RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, CANCELLED;
//  - UNAVAILABLE stays UNAVAILABLE, naming the service: "generation service unavailable (ADDR): ...";
//  - everything else becomes INTERNAL naming the service and the original code.
absl::Status DownstreamError(Service service, const std::string& addr, const grpc::Status& status);

}  // namespace gateway
