// The wire's SamplingParams and LogprobOptions (proto/awqserve/v1/common.proto) turned into the engine's
// inference::SamplingParams: absent fields take their documented defaults, out-of-range values are rejected with
// INVALID_ARGUMENT naming the field (with the caller's prefix) and its range. Used by the generation service and, for
// early validation, by the gateway. Pure functions, thread-safe.
//
//   ASSIGN_OR_RETURN(inference::SamplingParams p,
//                    generation::SamplingFromProto(req.sampling(), req.logprobs(), "sampling", "logprobs", vocab));
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "awqserve/v1/common.pb.h"
#include "inference/engine/sampling_params.h"

namespace generation {

// Ranges, as documented in common.proto.
inline constexpr float kMaxTemperature = 100.0f;
inline constexpr float kMaxRepetitionPenalty = 2.0f;
inline constexpr float kMaxAbsPresenceFrequencyPenalty = 2.0f;
inline constexpr int32_t kMaxLogprobsTopN = 20;

// vocab_size bounds top_k; pass 0 when unknown (the gateway), and the generation service checks it again.
// An absent seed becomes a fresh random one.
[[nodiscard]] absl::StatusOr<inference::SamplingParams> SamplingFromProto(const awqserve::v1::SamplingParams& sampling,
                                                                          const awqserve::v1::LogprobOptions& logprobs,
                                                                          const std::string& sampling_field,
                                                                          const std::string& logprobs_field,
                                                                          int vocab_size);

}  // namespace generation
