#include "services/generation/backend_factory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/cpu/cpu_backend.h"
#ifdef AWQSERVE_WITH_CUDA
#include "inference/cuda/cuda_backend.h"
#endif

namespace generation {
namespace {

// K and V, float32, every layer: the CPU backend's bytes per KV block.
int64_t CpuBytesPerBlock(const inference::ModelConfig& c, int block_size) {
  return int64_t{2} * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * block_size * sizeof(float);
}

}  // namespace

absl::StatusOr<std::unique_ptr<inference::Backend>> CreateBackend(const inference::ModelWeights& weights,
                                                                  const BackendChoice& choice) {
  const inference::ModelConfig& config = weights.config;
  if (choice.kv_blocks < 0) {
    return absl::InvalidArgumentError(absl::StrCat("kv_blocks: must be >= 0 (0: auto), got ", choice.kv_blocks));
  }
  if (choice.name == "cpu") {
    int64_t blocks = choice.kv_blocks;
    if (blocks == 0) {
      const int64_t per_seq = (config.max_position_embeddings + choice.block_size - 1) / choice.block_size;
      blocks = std::min<int64_t>(per_seq * choice.max_running,
                                 kCpuKvBudgetBytes / CpuBytesPerBlock(config, choice.block_size));
    }
    inference::CpuBackendOptions options;
    options.num_blocks = static_cast<int>(blocks);
    options.block_size = choice.block_size;
    options.threads = choice.threads;
    ASSIGN_OR_RETURN(std::unique_ptr<inference::CpuBackend> cpu, inference::CreateCpuBackend(weights, options));
    return std::unique_ptr<inference::Backend>(std::move(cpu));
  }
  if (choice.name == "cuda") {
#ifdef AWQSERVE_WITH_CUDA
    if (!(choice.kv_fraction > 0 && choice.kv_fraction <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("kv_fraction: must be in (0, 1], got ", choice.kv_fraction));
    }
    inference::cuda::CudaBackendOptions options;
    options.kv_memory_fraction = choice.kv_fraction;
    options.block_size = choice.block_size;
    options.max_kv_blocks = choice.kv_blocks;
    options.max_seqs = choice.max_running;
    options.max_batch_tokens = choice.max_batch_tokens;
    ASSIGN_OR_RETURN(std::unique_ptr<inference::cuda::CudaBackend> cuda,
                     inference::cuda::CudaBackend::Create(weights, options));
    return std::unique_ptr<inference::Backend>(std::move(cuda));
#else
    return absl::InvalidArgumentError(
        "backend: this build has no CUDA backend (build on a machine with nvcc, AWQSERVE_CUDA=AUTO or ON)");
#endif
  }
  return absl::InvalidArgumentError(absl::StrCat("backend: must be \"cpu\" or \"cuda\", got \"", choice.name, "\""));
}

}  // namespace generation
