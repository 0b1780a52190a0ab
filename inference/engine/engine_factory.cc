#include "inference/engine/engine_factory.h"

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

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(const std::string& model_dir, const EngineOptions& options) {
  if (options.kv_block_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("kv_block_size = ", options.kv_block_size, " must be at least 1"));
  }
  if (options.kv_blocks < 0) {
    return absl::InvalidArgumentError(absl::StrCat("kv_blocks = ", options.kv_blocks, " must be 0 (default) or more"));
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
#ifndef AWQSERVE_WITH_CUDA
  if (options.backend == "cuda") {
    return absl::InvalidArgumentError("backend \"cuda\" is not available in this build (available: cpu)");
  }
#endif
  ASSIGN_OR_RETURN(ModelWeights weights, LoadModelWeights(model_dir));
#ifdef AWQSERVE_WITH_CUDA
  if (options.backend == "cuda") {
    cuda::CudaBackendOptions gpu;
    gpu.block_size = options.kv_block_size;
    gpu.max_kv_blocks = options.kv_blocks;  // 0: the default fraction of free device memory
    gpu.max_batch_tokens = options.max_batch_tokens;
    gpu.max_seqs = options.max_running;
    ASSIGN_OR_RETURN(std::unique_ptr<cuda::CudaBackend> backend, cuda::CudaBackend::Create(weights, gpu));
    return Engine::Create(EngineConfigFor(weights.config, options), std::move(backend));
  }
#endif
  CpuBackendOptions cpu;
  cpu.block_size = options.kv_block_size;
  cpu.num_blocks = options.kv_blocks > 0 ? options.kv_blocks
                                         : (kDefaultKvTokens + options.kv_block_size - 1) / options.kv_block_size;
  cpu.threads = options.threads;
  ASSIGN_OR_RETURN(std::unique_ptr<CpuBackend> backend, CreateCpuBackend(weights, cpu));
  return Engine::Create(EngineConfigFor(weights.config, options), std::move(backend));
}

}  // namespace inference
