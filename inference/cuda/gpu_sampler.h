// The host side of sampling on the GPU (kernels/sampling.h) for the CUDA backend: per step, one row of parameters
// per sampled logits row (the draw's uniform taken from the sequence's RNG exactly as the CPU sampler's SampleToken
// takes it), the penalty entries built from each SamplerState, one upload, a graph-capturable launch on fixed device
// buffers, and the results applied back to the SamplerState (RNG advance, token counts) as SampleToken does. No
// logits row ever leaves the device.
//
// Ownership: owns its pinned and device buffers, sized once at Create. Thread-safety: one thread (the engine's).
//
//   ASSIGN_OR_RETURN(GpuSampler sampler, GpuSampler::Create(max_rows, vocab, max_model_len));
//   sampler.BeginStep();
//   RETURN_IF_ERROR(sampler.AddRow(params, state));   // row 0
//   sampler.AddIdleRow();                             // row 1: padding, result ignored
//   RETURN_IF_ERROR(sampler.Upload(stream));
//   RETURN_IF_ERROR(sampler.Launch(logits, 2, stream));   // may be captured in a CUDA graph
//   RETURN_IF_ERROR(sampler.Download(2, stream));
//   cudaStreamSynchronize(stream);
//   SampledToken t = sampler.Finish(0, params, &state);
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "inference/cuda/device_memory.h"
#include "inference/cuda/kernels/sampling.h"
#include "inference/engine/backend.h"
#include "inference/engine/sampling_params.h"

namespace inference::cuda {

class GpuSampler {
 public:
  GpuSampler() = default;
  // max_rows: rows of one launch; max_context: a sequence's longest prompt + output (bounds its distinct tokens).
  [[nodiscard]] static absl::StatusOr<GpuSampler> Create(int max_rows, int vocab, int max_context);

  int max_rows() const { return max_rows_; }
  // Starts a step's rows (row 0 next).
  void BeginStep();
  // The next row samples with `params` from `state` (read only here; Finish applies the step). INVALID_ARGUMENT
  // for params out of range (ValidateSamplingParams) or more rows than max_rows.
  [[nodiscard]] absl::Status AddRow(const SamplingParams& params, const SamplerState& state);
  // The next row's result is ignored (graph padding, sequences that do not sample, ExecuteLogits): greedy, no
  // penalties, no logprobs, so the logits row is left unchanged.
  [[nodiscard]] absl::Status AddIdleRow();
  int rows() const { return rows_; }
  // Copies the step's rows and penalty entries to the device (async on `stream`).
  [[nodiscard]] absl::Status Upload(cudaStream_t stream);
  // Samples logits rows [0, rows) (rows <= max_rows; the uploaded parameters of those rows apply). Reads only this
  // object's fixed device buffers, so a captured graph replays it with each step's uploaded parameters.
  [[nodiscard]] absl::Status Launch(float* logits, int rows, cudaStream_t stream) const;
  // Copies rows [0, rows) of the results to the host (async; top-n only when a row of the step asked for it).
  [[nodiscard]] absl::Status Download(int rows, cudaStream_t stream);
  // After Download's stream synchronized: row `row`'s token, recorded in `state` with the RNG advanced exactly as
  // SampleToken advances it (params and state must be the ones given to AddRow).
  SampledToken Finish(int row, const SamplingParams& params, SamplerState* state) const;

 private:
  int max_rows_ = 0, vocab_ = 0;
  int64_t max_entries_ = 0;
  int rows_ = 0;
  int32_t entries_ = 0;
  bool any_top_ = false;
  PinnedBuffer rows_host_, entries_host_, results_host_;
  DeviceBuffer rows_dev_, entries_dev_, results_dev_, workspace_;
};

}  // namespace inference::cuda
