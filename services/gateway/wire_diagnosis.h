// Why a request did not parse. Protobuf refuses a proto3 string holding invalid UTF-8 while parsing, before a
// service sees the request (gRPC itself would answer with a bare code), so the gateway takes its requests as raw
// bytes and, when parsing fails, walks the wire format with the message's descriptor to name the field at fault.
// Pure function, thread-safe.
//
//   absl::Status why = DiagnoseUnparsable(*awqserve::v1::ChatRequest::descriptor(), wire);
//   // INVALID_ARGUMENT "messages[1].content: not valid UTF-8 (bad byte at offset 3)", or when no string is at
//   // fault: INVALID_ARGUMENT "request: not a valid awqserve.v1.ChatRequest"
#pragma once

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"

namespace gateway {

[[nodiscard]] absl::Status DiagnoseUnparsable(const google::protobuf::Descriptor& type, const std::string& wire);

}  // namespace gateway
