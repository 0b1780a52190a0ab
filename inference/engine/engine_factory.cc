#include "inference/engine/engine_factory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/cpu/cpu_backend.h"
#include "inference/model/weights.h"
#ifdef AWQSERVE_WITH_CUDA
#include "inference/cuda/cuda_backend.h"
#endif

namespace inference {

EngineConfig EngineConfigFor(const ModelConfig& model, const EngineOptions& options) {
  EngineConfig c;
  c.vocab_size = model.vocab_size;
  c.context_length = model.max_position_embeddings;
  c.sliding_window = model.sliding_window;
  c.max_queued_requests = options.max_queued_requests;
  c.max_running = options.max_running;
  c.max_batch_tokens = options.max_batch_tokens;
  return c;
}

namespace {

// K and V, float32, every layer: the CPU backend's bytes per KV block.
int64_t CpuBytesPerBlock(const ModelConfig& c, int block_size) {
  return int64_t{2} * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * block_size * sizeof(float);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const ModelWeights& weights, const EngineOptions& options) {
  if (options.kv_block_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("kv_block_size = ", options.kv_block_size, " must be at least 1"));
  }
  if (options.kv_blocks < 0) {
    return absl::InvalidArgumentError(absl::StrCat("kv_blocks = ", options.kv_blocks, " must be 0 (automatic) or more"));
  }
#ifdef AWQSERVE_WITH_CUDA
  constexpr const char* kAvailable = "cpu, cuda";
#else
  constexpr const char* kAvailable = "cpu";
#endif
  if (options.backend != "cpu" && options.backend != "cuda") {
    return absl::InvalidArgumentError(absl::StrCat("backend \"", options.backend, "\" is unknown (available: ",
                                                   kAvailable, ")"));
  }
  if (options.backend == "cuda") {
#ifdef AWQSERVE_WITH_CUDA
    if (!(options.kv_fraction > 0 && options.kv_fraction <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("kv_fraction = ", options.kv_fraction, " must be in (0, 1]"));
    }
    cuda::CudaBackendOptions gpu;
    gpu.block_size = options.kv_block_size;
    gpu.max_kv_blocks = options.kv_blocks;  // 0: kv_memory_fraction of the free device memory
    gpu.kv_memory_fraction = options.kv_fraction;
    gpu.max_batch_tokens = options.max_batch_tokens;
    gpu.max_seqs = options.max_running;
    ASSIGN_OR_RETURN(std::unique_ptr<cuda::CudaBackend> backend, cuda::CudaBackend::Create(weights, gpu));
    return std::unique_ptr<Backend>(std::move(backend));
#else
    return absl::InvalidArgumentError("backend \"cuda\" is not available in this build (available: cpu)");
#endif
  }
  int64_t blocks = options.kv_blocks;
  if (blocks == 0) {
    const ModelConfig& c = weights.config;
    const int64_t per_seq = (c.max_position_embeddings + options.kv_block_size - 1) / options.kv_block_size;
    blocks = std::min<int64_t>(per_seq * options.max_running,
                               kCpuKvBudgetBytes / CpuBytesPerBlock(c, options.kv_block_size));
  }
  CpuBackendOptions cpu;
  cpu.block_size = options.kv_block_size;
  cpu.num_blocks = static_cast<int>(blocks);
  cpu.threads = options.threads;
  ASSIGN_OR_RETURN(std::unique_ptr<CpuBackend> backend, CreateCpuBackend(weights, cpu));
  return std::unique_ptr<Backend>(std::move(backend));
}

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(const std::string& model_dir, const EngineOptions& options) {
  ASSIGN_OR_RETURN(ModelWeights weights, LoadModelWeights(model_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, CreateBackend(weights, options));
  return Engine::Create(EngineConfigFor(weights.config, options), std::move(backend));
}

}  // namespace inference
