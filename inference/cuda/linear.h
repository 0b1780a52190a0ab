// One linear layer on the device, and the single place that decides which kernel runs it:
//   AWQ, rows <= 8               -> W4A16 GEMV (memory-bound decode)
//   AWQ, more rows               -> dequantize to fp16 scratch, then cuBLAS (tensor cores)
//   dense fp16                   -> cuBLAS
// plus the fp16 lm_head with fp32 logits. Borrowed device pointers only; nothing allocated per call.
//
// Thread-safety: a LinearContext belongs to one stream and one thread.
//
//   LinearContext ctx{stream, cublas, scratch, scratch_bytes};
//   RETURN_IF_ERROR(RunLinear(layer.qkv, x, m, qkv_out, ctx));
#pragma once

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

struct DeviceLinear {
  const uint32_t* qweight = nullptr;    // AWQ, kernel layout (kernels/w4a16.h)
  const __half2* scale_zero = nullptr;  // AWQ
  const __half* dense = nullptr;        // unquantized: [n][k]
  int n = 0, k = 0, group = 0;
};

struct LinearContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  __half* scratch = nullptr;   // LinearScratchBytes of the largest AWQ linear
  size_t scratch_bytes = 0;
};

size_t LinearScratchBytes(const DeviceLinear& w);

// y[m][n] = x[m][k] @ W (x rows contiguous, ld k; y ld n).
[[nodiscard]] absl::Status RunLinear(const DeviceLinear& w, const __half* x, int m, __half* y, const LinearContext& ctx);

// logits[m][vocab] (fp32) = x[m][hidden] @ head^T, head fp16 [vocab][hidden].
[[nodiscard]] absl::Status RunLmHead(const __half* head, int vocab, int hidden, const __half* x, int m, float* logits,
                                     const LinearContext& ctx);

}  // namespace inference::cuda
