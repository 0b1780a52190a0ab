// Checks of Chat and Complete requests made before any downstream call. Every error is INVALID_ARGUMENT with a
// message that names the field (as the client spelled it: "options.sampling.top_p", "messages[2].content") and the
// limit. What only a downstream service can judge (role order: the template; prompt length: after encoding) is
// checked there or by ResolveMaxTokens. Pure functions, thread-safe.
//
//   gateway::Limits limits{.max_tokens_cap = info.max_tokens_cap()};
//   RETURN_IF_ERROR(gateway::ValidateChatRequest(request, limits));
//   ... encode ...
//   ASSIGN_OR_RETURN(uint32_t max_tokens, gateway::ResolveMaxTokens(request.options(), prompt_ids.size(),
//                                                                  info.context_length(), limits));
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "awqserve/v1/gateway.pb.h"

namespace gateway {

// Limits from gateway.proto / template.proto.
inline constexpr int kMaxStopStrings = 16;
inline constexpr size_t kMaxStopStringBytes = 256;
inline constexpr int kMaxStopTokenIds = 64;
inline constexpr int kMaxMessages = 4096;

struct Limits {
  uint32_t max_tokens_cap = 4096;     // the generation service's --max_tokens_cap (its Info)
  uint32_t default_max_tokens = 256;  // used when the request leaves max_tokens unset
};

[[nodiscard]] absl::Status ValidateOptions(const awqserve::v1::GenerationOptions& options, const Limits& limits);
[[nodiscard]] absl::Status ValidateChatRequest(const awqserve::v1::ChatRequest& request, const Limits& limits);
[[nodiscard]] absl::Status ValidateCompleteRequest(const awqserve::v1::CompleteRequest& request,
                                                   const Limits& limits);

// The max_tokens to send to generation once the prompt's length is known. A prompt that leaves no room in the
// context is an error; an explicit max_tokens that does not fit beside the prompt is an error (both numbers in the
// message); an unset one becomes min(default, room left).
[[nodiscard]] absl::StatusOr<uint32_t> ResolveMaxTokens(const awqserve::v1::GenerationOptions& options,
                                                        size_t prompt_tokens, uint32_t context_length,
                                                        const Limits& limits);

}  // namespace gateway
