#include "services/common/health_client.h"

#include "grpc/health/v1/health.grpc.pb.h"
#include "services/common/status.h"

namespace services {

absl::StatusOr<std::string> CheckHealth(grpc::Channel& channel, const std::string& service, absl::Duration timeout) {
  using grpc::health::v1::HealthCheckResponse;
  auto stub = grpc::health::v1::Health::NewStub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return HealthCheckResponse::ServingStatus_Name(response.status());
}

}  // namespace services
