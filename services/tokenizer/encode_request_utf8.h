// Why an EncodeRequest failed to parse. Protobuf refuses a proto3 string holding invalid UTF-8 while parsing, before
// the service sees the request (gRPC would answer with a bare error code), so Encode takes its request as raw bytes
// and, when parsing fails, walks the wire format itself to name the offending field. Pure function, thread-safe.
//
//   absl::Status why = DiagnoseEncodeRequest(wire);
//   // INVALID_ARGUMENT "inputs[0].segments[2].text: invalid UTF-8 at byte 5", or, when no string is at fault,
//   // INVALID_ARGUMENT "request: not a valid awqserve.v1.EncodeRequest"
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace tokenizer_service {

[[nodiscard]] absl::Status DiagnoseEncodeRequest(std::string_view wire);

}  // namespace tokenizer_service
