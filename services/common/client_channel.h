// Client side of the same conventions: channels to awqserve services (the gateway's downstream calls, the CLI,
// tests). Thread-safe: channels and stubs may be shared across threads.
//
//   std::shared_ptr<grpc::Channel> ch = services::MakeChannel("127.0.0.1:50053");
//   RETURN_IF_ERROR(services::WaitForChannel(*ch, "127.0.0.1:50053", absl::Seconds(5)));
//   auto stub = awqserve::v1::Tokenizer::NewStub(ch);
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace services {

// An insecure channel (services talk over loopback or the pod network) with the message-size limit applied both
// ways.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, int max_message_bytes = 16 << 20);

// UNAVAILABLE "TARGET: not reachable within T" when the channel does not connect in time.
[[nodiscard]] absl::Status WaitForChannel(grpc::Channel& channel, const std::string& target,
                                          absl::Duration timeout);

}  // namespace services
