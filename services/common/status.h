// The one place where absl::Status meets grpc::Status. Inside awqserve every error is an absl::Status; it becomes a
// grpc::Status only at the RPC boundary (servers) and back again where a client reads a reply (gateway, CLI).
// Codes map one-to-one (both follow google.rpc.Code); the message is kept verbatim. Pure functions, thread-safe.
//
//   grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* ctx, const Req* req, Resp* resp) override {
//     return services::FinishUnary(ctx, impl_.Encode(*req, resp));   // absl::Status -> reply status
//   }
//   absl::Status s = services::FromGrpcStatus(stub->Encode(&cctx, req, &resp));
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace services {

grpc::StatusCode ToGrpcCode(absl::StatusCode code);
absl::StatusCode FromGrpcCode(grpc::StatusCode code);

// The code as gRPC spells it ("INVALID_ARGUMENT"), for metric labels and messages.
std::string GrpcCodeName(grpc::StatusCode code);

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// Finishes a unary callback RPC with `status` on the context's default reactor and returns that reactor.
grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context, const absl::Status& status);

}  // namespace services
