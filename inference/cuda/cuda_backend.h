// The CUDA backend (inference::Backend) for Mistral/Llama AWQ checkpoints on Hopper. Weights are uploaded and
// repacked at Create; the paged KV pool (fp16, kv_layout.h) takes a fraction of the device memory left after
// weights and workspaces, and its capacity in tokens is logged and reported by info().kv. A decode step (every
// sequence one token) is replayed from a CUDA graph captured per batch-size bucket; the host waits on the device
// once per step, to read the sampled ids.
//
// Sampling: every request is sampled on the GPU with exactly the CPU sampler's semantics (sampler.h: penalties,
// temperature, top-k, top-p, min-p, the per-sequence RNG's draw, logprobs and top-n; gpu_sampler.h). Only ids and
// the asked-for logprobs come back; logits rows never leave the device (ExecuteLogits, for tests, aside).
//
// Ownership: owns its device memory, stream, cuBLAS handle and graphs. Thread-safety: engine thread only.
//
//   CudaBackendOptions opt;
//   ASSIGN_OR_RETURN(std::unique_ptr<CudaBackend> b, CudaBackend::Create(weights, opt));
//   RETURN_IF_ERROR(b->Execute(batch, &result));
#pragma once

#include <cuda_runtime.h>

#include <array>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "inference/cuda/cublas_gemm.h"
#include "inference/cuda/device_memory.h"
#include "inference/cuda/device_weights.h"
#include "inference/cuda/gpu_sampler.h"
#include "inference/engine/backend.h"
#include "inference/model/weights.h"

namespace inference::cuda {

struct CudaBackendOptions {
  double kv_memory_fraction = 0.85;  // of the device memory free after weights and workspaces
  int block_size = 16;               // KV tokens per block
  int max_batch_tokens = 8192;       // tokens of one step (prefill chunks larger than this are rejected)
  int max_seqs = 256;                // sequences of one step (<= max_batch_tokens); graphs cover up to 256
  int max_model_len = 0;             // 0: the config's max_position_embeddings
  int64_t max_kv_blocks = 0;         // 0: as many as the fraction allows
  bool cuda_graphs = true;           // replay decode steps from captured graphs
  int device = 0;
};

class CudaBackend : public Backend {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(const ModelWeights& weights,
                                                                           const CudaBackendOptions& options);
  ~CudaBackend() override;

  const BackendInfo& info() const override { return info_; }
  [[nodiscard]] absl::Status Execute(const StepBatch& batch, StepResult* result) override;
  [[nodiscard]] absl::Status ExecuteLogits(const StepBatch& batch, std::vector<std::vector<float>>* logits) override;

  size_t weight_bytes() const { return model_.bytes; }
  size_t kv_bytes() const { return kv_.bytes(); }

 private:
  CudaBackend() = default;
  [[nodiscard]] absl::Status Init(const ModelWeights& weights, const CudaBackendOptions& options);
  // Validates the batch and fills the pinned metadata; returns the row count (padded to a graph bucket when
  // `graph` and the step is a pure decode) and the sampling sequences.
  [[nodiscard]] absl::Status Prepare(const StepBatch& batch, bool graph, int* rows, std::vector<int>* sample_seqs);
  // Uploads metadata, runs the forward over `rows` rows, the lm_head and sampling over `sample_rows` (eagerly,
  // or from the bucket's graph when `use_graph`).
  [[nodiscard]] absl::Status Run(const StepBatch& batch, int rows, int sample_rows, bool use_graph);
  [[nodiscard]] absl::Status Forward(int rows, int sample_rows);

  ModelConfig config_;
  CudaBackendOptions options_;
  BackendInfo info_;
  int max_blocks_per_seq_ = 0;
  int sample_capacity_ = 0;  // rows of the logits and sampled-id buffers
  int sm_count_ = 0;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CublasGemm> cublas_;
  DeviceModel model_;
  DeviceBuffer kv_;  // per layer: K pool then V pool
  DeviceBuffer residual_[2], normed_, qkv_, attn_, delta_, gate_up_, act_, scratch_, attn_ws_, logits_;
  DeviceBuffer gemm_ws_, gemm_counters_;
  DeviceBuffer inv_freq_, meta_dev_;
  PinnedBuffer meta_host_;
  GpuSampler sampler_;  // rows' sampling parameters, penalty entries and results (sample_capacity_ rows)
  // Offsets (in int32) of the metadata arrays inside meta_host_/meta_dev_.
  size_t off_ids_ = 0, off_pos_ = 0, off_slots_ = 0, off_qseq_ = 0, off_rows_ = 0, off_tiles_ = 0, off_sample_ = 0,
         off_tables_ = 0;
  // This step's attention work (set by Prepare): rows for the paged kernel (all rows when decode_rows_ == rows) and
  // query tiles for the flash prefill kernel.
  int decode_rows_ = 0, num_tiles_ = 0;
  int prefill_rows_ = 0;  // rows of multi-token chunks (they come first; linear.h's LinearRows)
  bool use_graph_ = false;  // a pure decode padded to a graph bucket
  std::array<cudaGraphExec_t, 9> graphs_{};  // decode buckets 1, 2, 4, ... 256
};

}  // namespace inference::cuda
