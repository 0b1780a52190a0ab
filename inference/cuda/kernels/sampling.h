// Greedy sampling on the GPU: per row of fp32 logits, the first index of the largest value (torch.argmax's tie
// rule, as the CPU sampler's Argmax) and its natural-log softmax probability. Only ids and logprobs go to the
// host. Kernels know nothing of requests; launchers never allocate.
//
// Thread-safety: launchers are reentrant.
//
//   ArgmaxParams ap{logits, rows, vocab, ids, logprobs};
//   RETURN_IF_ERROR(ValidateArgmax(ap));
//   LaunchArgmax(ap, stream);
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

struct ArgmaxParams {
  const float* logits = nullptr;  // [rows][vocab]
  int rows = 0, vocab = 0;
  int32_t* ids = nullptr;         // [rows]
  float* logprobs = nullptr;      // [rows] log softmax(logits)[id]
};
[[nodiscard]] absl::Status ValidateArgmax(const ArgmaxParams& p);
void LaunchArgmax(const ArgmaxParams& p, cudaStream_t stream);

}  // namespace inference::cuda
