// Prometheus metrics of a server: one registry per process, served at http://METRICS_LISTEN/metrics by
// MetricsHttpServer (metrics_http_server.h says why not prometheus-cpp's Exposer), and a gRPC server interceptor
// that measures every RPC generically:
//
//   awqserve_rpc_requests_total{method, code}       counter, one per finished call ("/pkg.Service/Method", "OK")
//   awqserve_rpc_duration_seconds{method}           histogram, call start to status sent (buckets from 1 ms)
//   awqserve_rpc_requests_in_flight{method}         gauge, calls started and not yet finished
//
// Services add their own metrics to registry() (prefix awqserve_, units in names: _seconds, _tokens, _total).
// Ownership: ServerMetrics owns the registry and the HTTP endpoint; it must outlive the gRPC server using its
// interceptor factory (ServiceHost takes care of that). Thread-safety: all of it is thread-safe after creation.
//
//   services::ServerMetrics metrics;
//   RETURN_IF_ERROR(metrics.Listen("127.0.0.1:0"));      // port 0: any free port, see port()
//   auto& encoded = prometheus::BuildCounter().Name("awqserve_tokenizer_encoded_tokens_total")
//                       .Help("Tokens produced by Encode").Register(metrics.registry()).Add({});
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

#include "absl/status/status.h"

namespace services {

class MetricsHttpServer;

// Latency buckets in seconds: 1 ms up to 10 minutes, roughly x2.5 per step, so both a 200 µs tokenizer call and a
// streamed generation of thousands of tokens under load (minutes) land in a meaningful bucket (the ARCHITECTURE.md
// rule: buckets down to 1 ms).
const prometheus::Histogram::BucketBoundaries& LatencyBucketsSeconds();

class ServerMetrics {
 public:
  ServerMetrics();
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Starts the HTTP endpoint on HOST:PORT. INVALID_ARGUMENT naming the flag when the address cannot be bound.
  [[nodiscard]] absl::Status Listen(const std::string& address);
  // The bound port, or 0 before Listen.
  int port() const { return port_; }

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  // A factory for ServerBuilder::experimental().SetInterceptorCreators; its interceptors update the rpc families
  // above. The factory points into this object.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  struct RpcFamilies {
    prometheus::Family<prometheus::Counter>* requests;
    prometheus::Family<prometheus::Histogram>* duration;
    prometheus::Family<prometheus::Gauge>* in_flight;
  };

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<MetricsHttpServer> http_;
  RpcFamilies families_;
  int port_ = 0;
};

}  // namespace services
