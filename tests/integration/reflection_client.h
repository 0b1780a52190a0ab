// Asks a server's reflection service to list its services, as grpcurl does: one ServerReflectionRequest
// {list_services: ""} on the v1alpha reflection stream, read back as raw bytes (the test only looks for names in
// them, so no reflection stubs are needed). Blocks; thread-safe (no shared state).
//
//   absl::StatusOr<std::string> reply = testing_support::ReflectionListServices(channel);
//   EXPECT_NE(reply->find("awqserve.v1.Tokenizer"), std::string::npos);
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace testing_support {

inline absl::StatusOr<std::string> ReflectionListServices(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok = false;
  // Each step waits for its completion; the first failure ends the exchange.
  auto step = [&](const char* what) -> absl::Status {
    if (!cq.Next(&tag, &ok) || !ok) return absl::UnavailableError(std::string("reflection: ") + what + " failed");
    return absl::OkStatus();
  };
  std::string bytes;
  absl::Status status;
  call->StartCall(reinterpret_cast<void*>(1));
  status = step("start");
  grpc::Slice slice(std::string("\x3a\x00", 2));  // field 7 (list_services), empty string
  grpc::ByteBuffer request(&slice, 1), response;
  if (status.ok()) {
    call->Write(request, reinterpret_cast<void*>(2));
    status = step("write");
  }
  if (status.ok()) {
    call->Read(&response, reinterpret_cast<void*>(3));
    status = step("read");
  }
  if (status.ok()) {
    std::vector<grpc::Slice> slices;
    if (response.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    } else {
      status = absl::InternalError("reflection: cannot read the reply");
    }
  }
  ctx.TryCancel();
  grpc::Status finish;
  call->Finish(&finish, reinterpret_cast<void*>(4));
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  if (!status.ok()) return status;
  return bytes;
}

}  // namespace testing_support
