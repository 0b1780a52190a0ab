// Builds an Engine for a model folder and a backend by name — what the CLI and the generation service call. The
// engine library itself knows no backend; this small library (awq_engine_factory) links them.
//
// Thread-safety: a pure function; the returned engine is documented in engine.h.
//
//   EngineOptions opts;
//   opts.backend = "cpu";
//   ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine, CreateEngine("/models/tiny-stories-awq", opts));
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "inference/engine/engine.h"
#include "inference/engine/backend.h"
#include "inference/model/model_config.h"
#include "inference/model/weights.h"

namespace inference {

struct EngineOptions {
  std::string backend = "cpu";     // "cpu", or "cuda" in a build with the CUDA backend
  int32_t kv_blocks = 0;           // KV blocks per layer pool; 0: automatic (see CreateBackend)
  int32_t kv_block_size = 16;      // tokens per block
  double kv_fraction = 0.85;       // cuda, automatic sizing: fraction of the free device memory for the KV cache
  int32_t threads = 0;             // CPU backend threads; 0: hardware concurrency
  int32_t max_queued_requests = 256;
  int32_t max_running = 64;
  int32_t max_batch_tokens = 512;
};

// KV memory the CPU backend takes at most when kv_blocks is 0: small enough to share a laptop.
inline constexpr int64_t kCpuKvBudgetBytes = int64_t{256} << 20;

// The model's limits (vocab, context, window) and the options' scheduler limits.
EngineConfig EngineConfigFor(const ModelConfig& model, const EngineOptions& options);

// The backend alone, for callers that wrap it before building the engine (the generation service meters it).
// Automatic KV sizing (kv_blocks 0): cpu: room for max_running sequences of the full context, within
// kCpuKvBudgetBytes; cuda: kv_fraction of the device memory free after the weights. INVALID_ARGUMENT names the
// option for an unknown backend, one this build lacks, or a value out of range.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const ModelWeights& weights,
                                                                     const EngineOptions& options);

// Loads the checkpoint, creates the backend and the engine (not started). Errors name the file or the option.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(const std::string& model_dir,
                                                                   const EngineOptions& options);

}  // namespace inference
