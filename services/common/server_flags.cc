#include "services/common/server_flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "services/common/shutdown_signal.h"

ABSL_FLAG(std::string, listen, "", "gRPC listen address HOST:PORT; port 0 picks a free port (default: the service's)");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus /metrics address HOST:PORT; 'none' disables it (default: the service's)");
ABSL_FLAG(std::string, port_file, "", "When set, the chosen gRPC port is written to this file once serving");
ABSL_FLAG(int32_t, max_message_bytes, 16 << 20, "Largest gRPC message received or sent, in bytes");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(30),
          "After SIGTERM/SIGINT: how long in-flight calls may still take before they are cancelled");
ABSL_FLAG(absl::Duration, shutdown_delay, absl::ZeroDuration(),
          "After SIGTERM/SIGINT: how long to keep accepting calls while health says NOT_SERVING");

namespace services {

std::vector<std::string> InitServerMain(int argc, char** argv, const std::string& usage) {
  BlockShutdownSignals();
  absl::SetProgramUsageMessage(usage);
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  return std::vector<std::string>(rest.begin() + (rest.empty() ? 0 : 1), rest.end());
}

absl::StatusOr<ServerOptions> ServerOptionsFromFlags(const ServerDefaults& defaults) {
  ServerOptions o;
  o.name = defaults.name;
  o.listen = absl::GetFlag(FLAGS_listen);
  if (o.listen.empty()) o.listen = defaults.listen;
  o.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (o.metrics_listen.empty()) o.metrics_listen = defaults.metrics_listen;
  if (o.metrics_listen == "none") o.metrics_listen.clear();
  o.port_file = absl::GetFlag(FLAGS_port_file);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  o.shutdown_delay = absl::GetFlag(FLAGS_shutdown_delay);
  if (o.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: expected HOST:PORT, got '", o.listen, "'"));
  }
  if (o.max_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_message_bytes: must be > 0, got ", o.max_message_bytes));
  }
  if (o.drain_timeout < absl::ZeroDuration() || o.shutdown_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--drain_timeout / --shutdown_delay: must not be negative");
  }
  return o;
}

}  // namespace services
