// Asking a server's grpc.health.v1.Health service. Thread-safe (no shared state beyond the channel).
//
//   absl::StatusOr<std::string> s = services::CheckHealth(*channel, "readiness", absl::Seconds(2));
//   // "SERVING", "NOT_SERVING", ...; NOT_FOUND when the server does not know the service
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace services {

[[nodiscard]] absl::StatusOr<std::string> CheckHealth(grpc::Channel& channel, const std::string& service,
                                                      absl::Duration timeout);

}  // namespace services
