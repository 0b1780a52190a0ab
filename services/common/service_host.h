// The bootstrap every awqserve server uses: one gRPC server with the given services, gRPC's default health service
// (grpc.health.v1.Health), server reflection, the metrics interceptor and /metrics endpoint, a message-size limit,
// and graceful drain on SIGTERM/SIGINT.
//
// Health statuses: "" (the process as a whole: SERVING from Start until drain), each added service's full name and
// kReadinessService — those two follow SetReady (Start's `ready`), so a service can start NOT_SERVING while it
// loads and flip when ready. Kubernetes probes: liveness on "", readiness on "readiness".
//
// Drain (ServeUntilShutdown, on SIGTERM/SIGINT or RequestShutdown): every health status becomes NOT_SERVING
// (Watch streams are told), after `shutdown_delay` new calls are refused, in-flight calls get until
// `drain_timeout` to finish (then they are cancelled), and the call returns 0 for main to exit with.
//
// Ownership: the host owns the grpc::Server and the metrics; services are borrowed and must outlive the host.
// Thread-safety: SetReady / SetServing may be called from any thread; the rest from main's thread.
//
//   int main(int argc, char** argv) {
//     services::InitServerMain(argc, argv, "awqserve-foo --listen ADDR ...");
//     absl::StatusOr<services::ServerOptions> opts = services::ServerOptionsFromFlags(kDefaults);
//     if (!opts.ok()) return services::ExitWithError("awqserve-foo", opts.status());
//     services::ServiceHost host(*opts);
//     FooService foo(host.metrics().registry());
//     host.AddService(&foo, awqserve::v1::Foo::service_full_name());
//     if (absl::Status s = host.Start(/*ready=*/true); !s.ok()) return services::ExitWithError(opts->name, s);
//     return host.ServeUntilShutdown();
//   }
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/metrics.h"

namespace services {

inline constexpr char kReadinessService[] = "readiness";

struct ServerOptions {
  std::string name = "awqserve";        // the binary's name, first word of its log lines
  std::string listen = "127.0.0.1:0";   // HOST:PORT for gRPC; port 0 picks a free one (see port())
  std::string metrics_listen;           // HOST:PORT for /metrics; empty: no metrics endpoint
  std::string port_file;                // when set, the chosen gRPC port is written there once serving
  int max_message_bytes = 16 << 20;     // largest message received or sent, in bytes
  absl::Duration drain_timeout = absl::Seconds(30);
  absl::Duration shutdown_delay = absl::ZeroDuration();  // NOT_SERVING but still accepting, before refusing calls
};

class ServiceHost {
 public:
  explicit ServiceHost(ServerOptions options);
  ~ServiceHost();
  ServiceHost(const ServiceHost&) = delete;
  ServiceHost& operator=(const ServiceHost&) = delete;

  // Valid from construction, so services can register their metrics before Start.
  ServerMetrics& metrics() { return metrics_; }
  const ServerOptions& options() const { return options_; }

  // Before Start. `full_name` is the proto service name (e.g. awqserve::v1::Tokenizer::service_full_name()).
  void AddService(grpc::Service* service, const std::string& full_name);

  // Binds, starts serving and prints "listening on HOST:PORT" (and "metrics on HOST:PORT") to stdout. Errors
  // name the flag: INVALID_ARGUMENT "listen: cannot bind '...'" and the like.
  [[nodiscard]] absl::Status Start(bool ready);

  int port() const { return port_; }
  // HOST:PORT with the chosen port, as clients dial it.
  const std::string& address() const { return address_; }
  grpc::Server* server() { return server_.get(); }

  void SetReady(bool ready);
  void SetServing(const std::string& service, bool serving);

  // Waits for SIGTERM/SIGINT/RequestShutdown, drains (see above) and returns the process exit code (0).
  int ServeUntilShutdown();
  // The drain part alone, for callers with their own wait.
  void Drain();

 private:
  ServerOptions options_;
  ServerMetrics metrics_;
  std::vector<std::pair<grpc::Service*, std::string>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  bool drained_ = false;
};

// "HOST:PORT" -> "HOST:<port>" (IPv6 "[::1]:0" works too).
std::string WithPort(const std::string& address, int port);

// Prints "NAME: <status message>" to stderr and returns the exit code for startup failures (1).
int ExitWithError(const std::string& name, const absl::Status& status);

}  // namespace services
