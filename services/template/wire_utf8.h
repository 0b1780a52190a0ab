// Why a request failed to parse. Protobuf refuses a proto3 string holding invalid UTF-8 before the service sees the
// request (gRPC would answer with a bare INTERNAL), so Render takes its request as raw bytes and, when parsing
// fails, walks the wire data with the message's descriptor to name the offending field. Pure function,
// thread-safe.
//
//   absl::Status why = DiagnoseRequest(wire, *awqserve::v1::RenderRequest::descriptor());
//   // INVALID_ARGUMENT "messages[1].content: not valid UTF-8 (byte 4)", or, when no string is at fault,
//   // INVALID_ARGUMENT "request: not a valid awqserve.v1.RenderRequest"
#pragma once

#include <google/protobuf/descriptor.h>

#include <string_view>

#include "absl/status/status.h"

namespace template_service {

[[nodiscard]] absl::Status DiagnoseRequest(std::string_view wire, const google::protobuf::Descriptor& descriptor);

}  // namespace template_service
