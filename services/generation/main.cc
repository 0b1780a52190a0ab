// awqserve-generation: the Generation service around the engine. See generation_service.h.
//
// Start-up: serve health at once (liveness SERVING, readiness NOT_SERVING), load the weights, build the backend and
// the engine, run one warm-up step, then turn readiness SERVING. SIGTERM drains in-flight streams, then stops the
// engine.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "awqserve/v1/generation.grpc.pb.h"
#include "base/status_macros.h"
#include "inference/engine/engine.h"
#include "inference/engine/engine_factory.h"
#include "inference/model/weights.h"
#include "services/common/server_flags.h"
#include "services/common/service_host.h"
#include "services/generation/engine_metrics.h"
#include "services/generation/generation_service.h"

ABSL_FLAG(std::string, model_dir, "", "the Hugging Face model folder (config.json, safetensors); required");
ABSL_FLAG(std::string, backend, "cpu", "compute backend: cpu or cuda");
ABSL_FLAG(uint32_t, max_tokens_cap, 4096, "largest max_tokens a request may ask for");
ABSL_FLAG(int32_t, max_queued_requests, 256, "requests waiting for a batch slot, at most (then RESOURCE_EXHAUSTED)");
ABSL_FLAG(int32_t, max_running, 64, "sequences in one batch, at most");
ABSL_FLAG(int32_t, max_batch_tokens, 512, "tokens of one engine step (prefill chunks and decodes), at most");
ABSL_FLAG(int64_t, kv_blocks, 0, "KV cache blocks of 16 tokens; 0: auto (see --kv_fraction for cuda)");
ABSL_FLAG(double, kv_fraction, 0.85, "cuda: fraction of the free device memory for the KV cache");
ABSL_FLAG(int32_t, threads, 0, "cpu: worker threads; 0: all cores");

namespace {

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct Loaded {
  inference::ModelConfig config;
  std::unique_ptr<inference::Engine> engine;
};

absl::StatusOr<Loaded> LoadEngine(const std::string& model_dir, generation::EngineMetrics* metrics) {
  ASSIGN_OR_RETURN(inference::ModelWeights weights, inference::LoadModelWeights(model_dir));
  inference::EngineOptions engine_options;
  engine_options.backend = absl::GetFlag(FLAGS_backend);
  engine_options.kv_blocks = static_cast<int32_t>(absl::GetFlag(FLAGS_kv_blocks));
  engine_options.kv_fraction = absl::GetFlag(FLAGS_kv_fraction);
  engine_options.threads = absl::GetFlag(FLAGS_threads);
  engine_options.max_queued_requests = absl::GetFlag(FLAGS_max_queued_requests);
  engine_options.max_running = absl::GetFlag(FLAGS_max_running);
  engine_options.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  ASSIGN_OR_RETURN(std::unique_ptr<inference::Backend> backend, inference::CreateBackend(weights, engine_options));

  const inference::EngineConfig ec = inference::EngineConfigFor(weights.config, engine_options);
  Loaded loaded;
  loaded.config = weights.config;
  ASSIGN_OR_RETURN(loaded.engine,
                   inference::Engine::Create(ec, std::make_unique<generation::MeteredBackend>(std::move(backend),
                                                                                             metrics)));
  return loaded;
}

}  // namespace

int main(int argc, char** argv) {
  services::InitServerMain(argc, argv,
                           "awqserve-generation --model_dir DIR [--backend cpu|cuda] [--listen ADDR] "
                           "[--metrics_listen ADDR] [--max_tokens_cap N] [--kv_blocks N] ...");
  const char* kName = "awqserve-generation";
  absl::StatusOr<services::ServerOptions> options =
      services::ServerOptionsFromFlags({kName, "0.0.0.0:50054", "0.0.0.0:9404"});
  if (!options.ok()) return services::ExitWithError(kName, options.status());
  const std::string model_dir = absl::GetFlag(FLAGS_model_dir);
  if (model_dir.empty()) return services::ExitWithError(kName, absl::InvalidArgumentError("model_dir: required"));
  const uint32_t cap = absl::GetFlag(FLAGS_max_tokens_cap);
  if (cap < 1) return services::ExitWithError(kName, absl::InvalidArgumentError("max_tokens_cap: must be >= 1"));

  generation::GenerationService service;  // outlives the host, which borrows it
  services::ServiceHost host(*options);
  const std::string model_name = BaseName(model_dir);
  generation::EngineMetrics metrics(host.metrics().registry(), model_name);
  host.AddService(&service, awqserve::v1::Generation::service_full_name());
  if (absl::Status s = host.Start(/*ready=*/false); !s.ok()) return services::ExitWithError(kName, s);

  absl::StatusOr<Loaded> loaded = LoadEngine(model_dir, &metrics);
  if (!loaded.ok()) return services::ExitWithError(kName, loaded.status());
  inference::Engine* engine = loaded->engine.get();
  engine->Start();
  service.Attach(engine, &metrics, generation::ServiceOptions{model_name, loaded->config, cap});
  metrics.StartPolling(engine);
  if (absl::Status s = service.WarmUp(); !s.ok()) return services::ExitWithError(kName, s);
  const inference::BackendInfo& b = engine->backend_info();
  std::printf("%s: %s on %s, KV cache %d blocks x %d tokens; ready\n", kName, model_name.c_str(), b.name.c_str(),
              b.kv.num_blocks, b.kv.block_size);
  std::fflush(stdout);
  service.SetReady(true);
  host.SetReady(true);

  int code = host.ServeUntilShutdown();
  service.SetReady(false);
  metrics.StopPolling();
  engine->Stop();
  return code;
}
