// A minimal HTTP/1.x server for GET /metrics (Prometheus text format 0.0.4), on one thread of its own.
//
// Why not prometheus-cpp's Exposer: its civetweb worker threads are created with a fixed, compiled-in stack size,
// and glibc places a process's static TLS on every thread's stack. In a CUDA-linked process (libcublasLt alone
// carries ~94 KiB of static TLS) that stack is too small, pthread_create fails with EINVAL and the Exposer cannot
// start ("Cannot create first worker thread"). This server uses a std::thread (the default 8 MiB stack) and
// serialises the same prometheus-cpp registry with prometheus::TextSerializer.
//
// Scope: one connection at a time, "Connection: close", a request must arrive within kRequestTimeout and fit in
// kMaxRequestBytes; GET /metrics -> 200, other paths -> 404, other methods -> 405. Enough for Prometheus scrapes.
// Ownership: borrows the registry (shared). Thread-safety: Start/Stop from one thread; serving runs on its own.
//
//   MetricsHttpServer server(registry);
//   RETURN_IF_ERROR(server.Start("0.0.0.0:9403"));   // port 0: any free port, see port()
//   ...
//   server.Stop();   // also done by the destructor
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace services {

class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {}
  ~MetricsHttpServer() { Stop(); }
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds HOST:PORT (IPv4, "[v6]" or a host name) and starts serving. INVALID_ARGUMENT naming the address.
  [[nodiscard]] absl::Status Start(const std::string& address);
  void Stop();
  int port() const { return port_; }

  // A scrape's request must be complete within this time and size (a slow or huge request is dropped).
  static constexpr absl::Duration kRequestTimeout = absl::Seconds(5);
  static constexpr size_t kMaxRequestBytes = 8192;

 private:
  void Serve();
  void HandleConnection(int fd);

  std::shared_ptr<prometheus::Registry> registry_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written by Stop to end the accept loop
  int port_ = 0;
  std::thread thread_;
};

}  // namespace services
