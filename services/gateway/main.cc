// awqserve-gateway: the TextGeneration front door (Chat, Complete). See gateway_service.h.
#include <string>

#include "absl/flags/flag.h"
#include "awqserve/v1/gateway.grpc.pb.h"
#include "services/common/server_flags.h"
#include "services/common/service_host.h"
#include "services/gateway/downstream.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/gateway_service.h"

ABSL_FLAG(std::string, template, "127.0.0.1:50052", "the PromptTemplate service, HOST:PORT");
ABSL_FLAG(std::string, tokenizer, "127.0.0.1:50053", "the Tokenizer service, HOST:PORT");
ABSL_FLAG(std::string, generation, "127.0.0.1:50054", "the Generation service, HOST:PORT");

int main(int argc, char** argv) {
  services::InitServerMain(argc, argv,
                           "awqserve-gateway --template ADDR --tokenizer ADDR --generation ADDR [--listen ADDR] "
                           "[--metrics_listen ADDR]");
  absl::StatusOr<services::ServerOptions> options =
      services::ServerOptionsFromFlags({"awqserve-gateway", "0.0.0.0:50051", "0.0.0.0:9401"});
  if (!options.ok()) return services::ExitWithError("awqserve-gateway", options.status());

  services::ServiceHost host(*options);
  gateway::GatewayMetrics metrics(host.metrics().registry());
  gateway::GatewayService service(gateway::ConnectDownstream(absl::GetFlag(FLAGS_template),
                                                             absl::GetFlag(FLAGS_tokenizer),
                                                             absl::GetFlag(FLAGS_generation)),
                                  &metrics);
  host.AddService(&service, awqserve::v1::TextGeneration::service_full_name());
  if (absl::Status s = host.Start(/*ready=*/false); !s.ok()) return services::ExitWithError(options->name, s);
  // Ready once generation has described the model (context length, limits, model name).
  service.Start([&host] { host.SetReady(true); });
  return host.ServeUntilShutdown();
}
