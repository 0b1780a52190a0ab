// Builds the compute backend the generation service runs on, from its flags: "cpu" (inference/cpu, always there)
// or "cuda" (inference/cuda, when the build found nvcc). Sizing the KV pool is decided here.
//
// Thread-safety: a plain function; call it from main's thread.
//
//   BackendChoice choice{.name = "cpu", .kv_blocks = 0};
//   ASSIGN_OR_RETURN(std::unique_ptr<inference::Backend> backend, CreateBackend(weights, choice));
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "inference/engine/backend.h"
#include "inference/model/weights.h"

namespace generation {

// KV memory the CPU backend takes when --kv_blocks is 0 (auto), at most: small enough to share a laptop.
inline constexpr int64_t kCpuKvBudgetBytes = int64_t{256} << 20;

struct BackendChoice {
  std::string name = "cpu";      // --backend: "cpu" or "cuda"
  int64_t kv_blocks = 0;         // --kv_blocks: 0 = auto (CPU: room for max_running full contexts within the
                                 // budget above; CUDA: kv_fraction of the free device memory)
  double kv_fraction = 0.85;     // --kv_fraction (CUDA)
  int block_size = 16;           // tokens per KV block
  int threads = 0;               // --threads (CPU): 0 = all cores
  int max_running = 64;          // sequences of one step
  int max_batch_tokens = 512;    // tokens of one step
};

// INVALID_ARGUMENT naming the flag for an unknown backend or one this build lacks.
[[nodiscard]] absl::StatusOr<std::unique_ptr<inference::Backend>> CreateBackend(const inference::ModelWeights& weights,
                                                                                const BackendChoice& choice);

}  // namespace generation
