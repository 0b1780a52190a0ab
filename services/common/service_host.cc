#include "services/common/service_host.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "services/common/shutdown_signal.h"

namespace services {

ServiceHost::ServiceHost(ServerOptions options) : options_(std::move(options)) {}

ServiceHost::~ServiceHost() {
  if (server_ && !drained_) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
  }
}

void ServiceHost::AddService(grpc::Service* service, const std::string& full_name) {
  services_.emplace_back(service, full_name);
}

std::string WithPort(const std::string& address, int port) {
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  return absl::StrCat(host, ":", port);
}

int ExitWithError(const std::string& name, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", name.c_str(), std::string(status.message()).c_str());
  return 1;
}

absl::Status ServiceHost::Start(bool ready) {
  if (options_.max_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes: must be > 0, got ", options_.max_message_bytes));
  }
  if (!options_.metrics_listen.empty()) {
    if (absl::Status s = metrics_.Listen(options_.metrics_listen); !s.ok()) return s;
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &selected_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server bind a port already in use.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_message_bytes);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics_.NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  for (auto& [service, name] : services_) builder.RegisterService(service);
  server_ = builder.BuildAndStart();
  if (!server_ || selected_port == 0) {
    server_.reset();
    return absl::InvalidArgumentError(absl::StrCat("listen: cannot bind '", options_.listen,
                                                   "' (address in use or malformed; expected HOST:PORT)"));
  }
  port_ = selected_port;
  address_ = WithPort(options_.listen, port_);
  server_->GetHealthCheckService()->SetServingStatus("", true);
  SetReady(ready);

  std::printf("listening on %s\n", address_.c_str());
  if (metrics_.port() != 0) {
    std::printf("metrics on %s\n", WithPort(options_.metrics_listen, metrics_.port()).c_str());
  }
  std::fflush(stdout);
  if (!options_.port_file.empty()) {
    // Written whole then renamed, so a reader never sees a partial number.
    const std::string tmp = options_.port_file + ".tmp";
    { std::ofstream(tmp) << port_ << "\n"; }
    if (std::rename(tmp.c_str(), options_.port_file.c_str()) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("port_file: cannot write '", options_.port_file, "'"));
    }
  }
  return absl::OkStatus();
}

void ServiceHost::SetReady(bool ready) {
  if (!server_) return;
  for (auto& [service, name] : services_) SetServing(name, ready);
  SetServing(kReadinessService, ready);
}

void ServiceHost::SetServing(const std::string& service, bool serving) {
  if (!server_) return;
  server_->GetHealthCheckService()->SetServingStatus(service, serving);
}

void ServiceHost::Drain() {
  if (!server_ || drained_) return;
  drained_ = true;
  // Shutdown() of the health service sets every status NOT_SERVING and keeps it so (later sets are ignored).
  server_->GetHealthCheckService()->Shutdown();
  if (options_.shutdown_delay > absl::ZeroDuration()) absl::SleepFor(options_.shutdown_delay);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.drain_timeout));
  server_->Wait();
}

int ServiceHost::ServeUntilShutdown() {
  const std::string reason = WaitForShutdown();
  std::fprintf(stderr, "%s: %s: draining (up to %s)\n", options_.name.c_str(), reason.c_str(),
               absl::FormatDuration(options_.drain_timeout).c_str());
  Drain();
  std::fprintf(stderr, "%s: stopped\n", options_.name.c_str());
  return 0;
}

}  // namespace services
