// awqserve-template: the prompt template sidecar. Loads the chat template of --model_dir (chat_template.jinja or
// tokenizer_config.json's chat_template; built-in Mistral v0.1 otherwise) with its bos/eos tokens and serves
// awqserve.v1.PromptTemplate with health, reflection and /metrics; drains on SIGTERM.
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/server_flags.h"
#include "services/common/service_host.h"
#include "services/template/model_template.h"
#include "services/template/template_service.h"

ABSL_FLAG(std::string, model_dir, "",
          "Model folder (chat_template.jinja, tokenizer_config.json, special_tokens_map.json); empty: the built-in "
          "Mistral v0.1 template");
ABSL_FLAG(std::string, now, "",
          "Freeze the clock strftime_now reads at this local time (YYYY-MM-DDTHH:MM:SS), for reproducible prompts");

namespace {

constexpr char kName[] = "awqserve-template";
// Loopback by default: a sidecar is called from inside its pod only. Metrics are scraped from outside.
const services::ServerDefaults kDefaults = {kName, "127.0.0.1:50052", "0.0.0.0:9402"};

}  // namespace

int main(int argc, char** argv) {
  services::InitServerMain(argc, argv,
                           "awqserve-template [--model_dir DIR] [--listen HOST:PORT] [--metrics_listen HOST:PORT] "
                           "[--now YYYY-MM-DDTHH:MM:SS]");
  absl::StatusOr<services::ServerOptions> options = services::ServerOptionsFromFlags(kDefaults);
  if (!options.ok()) return services::ExitWithError(kName, options.status());

  absl::StatusOr<template_service::ModelTemplate> model =
      template_service::LoadModelTemplate(absl::GetFlag(FLAGS_model_dir));
  if (!model.ok()) return services::ExitWithError(kName, model.status());
  template_service::TemplateOptions template_options;
  if (const std::string now = absl::GetFlag(FLAGS_now); !now.empty()) {
    absl::StatusOr<jinja::Clock> clock = jinja::FixedClock(now);
    if (!clock.ok()) {
      return services::ExitWithError(kName,
                                     absl::InvalidArgumentError(absl::StrCat("--now: ", clock.status().message())));
    }
    template_options.clock = *clock;
  }

  services::ServiceHost host(*options);
  template_service::TemplateService service(*std::move(model), template_options, &host.metrics().registry());
  if (absl::Status s = service.Init(); !s.ok()) return services::ExitWithError(kName, s);
  host.AddService(&service, awqserve::v1::PromptTemplate::service_full_name());
  if (absl::Status s = host.Start(/*ready=*/true); !s.ok()) return services::ExitWithError(kName, s);
  return host.ServeUntilShutdown();
}
