// awqserve-tokenizer: the tokenizer sidecar. Loads DIR/tokenizer.model (+ tokenizer_config.json,
// special_tokens_map.json) and serves awqserve.v1.Tokenizer with health, reflection and /metrics.
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "services/common/server_flags.h"
#include "services/common/service_host.h"
#include "services/tokenizer/tokenizer_service.h"
#include "tokenizer/tokenizer.h"

ABSL_FLAG(std::string, model_dir, "", "Folder holding tokenizer.model (and optionally tokenizer_config.json)");
ABSL_FLAG(int64_t, max_text_bytes, 1 << 20, "Largest text of one Encode input, in bytes (default 1 MiB)");

namespace {

constexpr char kName[] = "awqserve-tokenizer";
// Loopback by default: a sidecar is called from inside its pod only. Metrics are scraped from outside.
const services::ServerDefaults kDefaults = {kName, "127.0.0.1:50053", "0.0.0.0:9403"};

}  // namespace

int main(int argc, char** argv) {
  services::InitServerMain(argc, argv,
                           "awqserve-tokenizer --model_dir DIR [--listen HOST:PORT] [--metrics_listen HOST:PORT] "
                           "[--max_text_bytes N]");
  absl::StatusOr<services::ServerOptions> options = services::ServerOptionsFromFlags(kDefaults);
  if (!options.ok()) return services::ExitWithError(kName, options.status());
  const std::string model_dir = absl::GetFlag(FLAGS_model_dir);
  if (model_dir.empty()) return services::ExitWithError(kName, absl::InvalidArgumentError("--model_dir is required"));
  tokenizer_service::TokenizerLimits limits;
  limits.max_text_bytes = absl::GetFlag(FLAGS_max_text_bytes);
  if (limits.max_text_bytes <= 0) {
    return services::ExitWithError(kName, absl::InvalidArgumentError("--max_text_bytes: must be > 0"));
  }

  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tok = tokenizer::Tokenizer::Load(model_dir);
  if (!tok.ok()) return services::ExitWithError(kName, tok.status());

  services::ServiceHost host(*options);
  tokenizer_service::TokenizerService service(tok->get(), limits, &host.metrics().registry());
  host.AddService(&service, awqserve::v1::Tokenizer::service_full_name());
  if (absl::Status s = host.Start(/*ready=*/true); !s.ok()) return services::ExitWithError(kName, s);
  return host.ServeUntilShutdown();
}
