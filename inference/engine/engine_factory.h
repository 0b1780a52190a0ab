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
#include "inference/model/model_config.h"

namespace inference {

struct EngineOptions {
  std::string backend = "cpu";     // "cpu", or "cuda" in a build with the CUDA backend
  int32_t kv_blocks = 0;           // KV blocks per layer pool; 0: enough for kDefaultKvTokens tokens
  int32_t kv_block_size = 16;      // tokens per block
  int32_t threads = 0;             // CPU backend threads; 0: hardware concurrency
  int32_t max_queued_requests = 256;
  int32_t max_running = 64;
  int32_t max_batch_tokens = 512;
};

// The default KV capacity: 16 full 512-token sequences, or one request of up to 8192 tokens.
inline constexpr int32_t kDefaultKvTokens = 16 * 512;

// The model's limits (vocab, context, window) and the options' scheduler limits.
EngineConfig EngineConfigFor(const ModelConfig& model, const EngineOptions& options);

// Loads the checkpoint, creates the backend and the engine (not started). Errors name the file or the option.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(const std::string& model_dir,
                                                                   const EngineOptions& options);

}  // namespace inference
