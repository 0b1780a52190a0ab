// Command-line flags every awqserve server shares (Abseil flags), and the start of a server's main.
//
//   --listen HOST:PORT          gRPC address (port 0: any free port; the chosen one is printed)
//   --metrics_listen HOST:PORT  /metrics address; "none" disables it
//   --port_file PATH            write the chosen gRPC port there once serving
//   --max_message_bytes N       largest gRPC message, received or sent (default 16 MiB)
//   --drain_timeout DURATION    how long in-flight calls may take after SIGTERM (default 30s)
//   --shutdown_delay DURATION   keep accepting calls while NOT_SERVING before refusing them (default 0s)
//
// Each binary gives its own default addresses (ARCHITECTURE.md's port table) through ServerDefaults. Flags are
// process-global: parse once, from main's thread.
//
//   int main(int argc, char** argv) {
//     services::InitServerMain(argc, argv, "awqserve-tokenizer --model_dir DIR [flags]");
//     absl::StatusOr<services::ServerOptions> opts = services::ServerOptionsFromFlags(
//         {"awqserve-tokenizer", "0.0.0.0:50053", "0.0.0.0:9403"});
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/service_host.h"

namespace services {

struct ServerDefaults {
  std::string name;
  std::string listen;
  std::string metrics_listen;
};

// Blocks SIGTERM/SIGINT for the watcher (before any thread exists), sets the usage line and parses the flags
// (exits on --help or a bad flag). Returns the positional arguments after the program name.
std::vector<std::string> InitServerMain(int argc, char** argv, const std::string& usage);

// The shared flags as ServerOptions, with `defaults` where a flag was not given.
[[nodiscard]] absl::StatusOr<ServerOptions> ServerOptionsFromFlags(const ServerDefaults& defaults);

}  // namespace services
