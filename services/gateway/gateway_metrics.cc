#include "services/gateway/gateway_metrics.h"

#include "services/common/metrics.h"

namespace gateway {
namespace {
constexpr const char* kMethods[] = {"Chat", "Complete", "ChatUnary", "CompleteUnary"};
}  // namespace

GatewayMetrics::GatewayMetrics(prometheus::Registry& registry)
    : ttft_(prometheus::BuildHistogram()
                .Name("awqserve_gateway_time_to_first_token_seconds")
                .Help("From a call's arrival at the gateway to its first message with text (unary: the response)")
                .Register(registry)),
      inter_token_(prometheus::BuildHistogram()
                       .Name("awqserve_gateway_inter_token_latency_seconds")
                       .Help("Time between two consecutive streamed messages of one call")
                       .Register(registry)) {}

void GatewayMetrics::SetModel(const std::string& model_name) {
  absl::MutexLock lock(&mu_);
  for (const char* method : kMethods) {
    Method& m = methods_[method];
    const std::map<std::string, std::string> labels = {{"model_name", model_name}, {"grpc_method", method}};
    m.ttft = &ttft_.Add(labels, services::LatencyBucketsSeconds());
    m.inter_token = &inter_token_.Add(labels, services::LatencyBucketsSeconds());
  }
}

GatewayMetrics::Method* GatewayMetrics::ForMethod(const std::string& method) {
  absl::MutexLock lock(&mu_);
  auto it = methods_.find(method);
  return it == methods_.end() ? nullptr : &it->second;
}

}  // namespace gateway
