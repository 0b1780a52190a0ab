// The CPU reference backend: float32 weights (AWQ dequantized at load), a float32 paged KV cache, the Mistral
// forward of mistral_forward.h, multi-threaded over rows and heads, and the shared sampler (engine/sampler.h).
// Obviously correct rather than fast; the CUDA backend is tested against it.
//
// Ownership: owns its weights (copied to float32; the ModelWeights may be dropped after creation), its KV pools
// and its threads. Thread-safety: like every Backend, used by the engine thread only.
//
//   ASSIGN_OR_RETURN(ModelWeights w, LoadModelWeights(dir));
//   ASSIGN_OR_RETURN(std::unique_ptr<CpuBackend> cpu, CreateCpuBackend(w, {.num_blocks = 256}));
//   RETURN_IF_ERROR(cpu->Execute(batch, &result));
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/cpu/cpu_model.h"
#include "inference/cpu/mistral_forward.h"
#include "inference/cpu/thread_pool.h"
#include "inference/engine/backend.h"
#include "inference/model/weights.h"

namespace inference {

struct CpuBackendOptions {
  int num_blocks = 256;   // KV blocks per layer pool
  int block_size = 16;    // tokens per block
  int threads = 0;        // 0: std::thread::hardware_concurrency()
  // Refuse (RESOURCE_EXHAUSTED) when float32 weights + KV pools would exceed this; 0: the machine's physical memory.
  size_t max_memory_bytes = 0;
};

// Bytes the CPU backend allocates for `config`: float32 weights plus the K and V pools.
size_t CpuBackendMemoryBytes(const ModelConfig& config, const CpuBackendOptions& options);

class CpuBackend : public Backend {
 public:
  CpuBackend(CpuModel model, const CpuBackendOptions& options);

  const BackendInfo& info() const override { return info_; }
  [[nodiscard]] absl::Status Execute(const StepBatch& batch, StepResult* result) override;
  [[nodiscard]] absl::Status ExecuteLogits(const StepBatch& batch, std::vector<std::vector<float>>* logits) override;
  // Logits of every new token of every sequence, in batch order (tests: prefill compared position by position).
  [[nodiscard]] absl::Status ExecuteAllLogits(const StepBatch& batch, std::vector<std::vector<float>>* logits);

  const ModelConfig& config() const { return model_.config; }

 private:
  // Checks ids, positions and block tables, then runs the forward; logits of every new token (all_rows) or of the
  // last token of each sampling sequence, row_seq naming each row's sequence.
  [[nodiscard]] absl::Status Forward(const StepBatch& batch, bool all_rows, std::vector<int>* row_seq,
                                     std::vector<float>* logits);
  [[nodiscard]] absl::Status LogitRows(const StepBatch& batch, bool all_rows, std::vector<std::vector<float>>* logits);

  CpuModel model_;
  BackendInfo info_;
  KvPools kv_;
  ThreadPool pool_;
  ForwardScratch scratch_;
};

// Converts the weights to float32 and allocates the KV pools. INVALID_ARGUMENT for bad options,
// RESOURCE_EXHAUSTED (with both sizes) when the model does not fit the memory limit.
[[nodiscard]] absl::StatusOr<std::unique_ptr<CpuBackend>> CreateCpuBackend(const ModelWeights& weights,
                                                                           const CpuBackendOptions& options = {});

}  // namespace inference
