#include "services/common/metrics.h"

#include <chrono>

#include "services/common/metrics_http_server.h"

#include "absl/strings/str_cat.h"
#include "services/common/status.h"

namespace services {
namespace {

using grpc::experimental::InterceptionHookPoints;

// One per call: counts it in flight from creation, and records code and latency when gRPC destroys it at the end
// of the call. A call that ends without sending a status (the client went away) counts as CANCELLED.
class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(const ServerMetrics::RpcFamilies& families, std::string method)
      : families_(families),
        method_(std::move(method)),
        start_(std::chrono::steady_clock::now()),
        in_flight_(&families.in_flight->Add({{"method", method_}})) {
    in_flight_->Increment();
  }

  ~RpcMetricsInterceptor() override {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    families_.duration->Add({{"method", method_}}, LatencyBucketsSeconds()).Observe(elapsed.count());
    families_.requests->Add({{"method", method_}, {"code", GrpcCodeName(code_)}}).Increment();
    in_flight_->Decrement();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    methods->Proceed();
  }

 private:
  const ServerMetrics::RpcFamilies& families_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  prometheus::Gauge* in_flight_;
  grpc::StatusCode code_ = grpc::StatusCode::CANCELLED;
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(const ServerMetrics::RpcFamilies& families) : families_(families) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(families_, info->method() ? info->method() : "unknown");
  }

 private:
  const ServerMetrics::RpcFamilies& families_;
};

}  // namespace

const prometheus::Histogram::BucketBoundaries& LatencyBucketsSeconds() {
  static const prometheus::Histogram::BucketBoundaries* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 150, 300, 600};
  return *buckets;
}

ServerMetrics::ServerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  families_.requests = &prometheus::BuildCounter()
                            .Name("awqserve_rpc_requests_total")
                            .Help("gRPC calls finished, by method and status code")
                            .Register(*registry_);
  families_.duration = &prometheus::BuildHistogram()
                            .Name("awqserve_rpc_duration_seconds")
                            .Help("gRPC call latency from start to status, by method")
                            .Register(*registry_);
  families_.in_flight = &prometheus::BuildGauge()
                             .Name("awqserve_rpc_requests_in_flight")
                             .Help("gRPC calls started and not yet finished, by method")
                             .Register(*registry_);
}

ServerMetrics::~ServerMetrics() = default;

absl::Status ServerMetrics::Listen(const std::string& address) {
  auto http = std::make_unique<MetricsHttpServer>(registry_);
  if (absl::Status s = http->Start(address); !s.ok()) return s;
  port_ = http->port();
  http_ = std::move(http);
  return absl::OkStatus();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> ServerMetrics::NewInterceptorFactory() {
  return std::make_unique<RpcMetricsFactory>(families_);
}

}  // namespace services
