// CUDA and cuBLAS error codes as absl::Status. Header-only; thread-safe.
//
//   RETURN_IF_CUDA_ERROR(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream));
//   RETURN_IF_ERROR(CudaLastError("w4a16 gemm"));   // after a kernel launch
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace inference::cuda {

inline absl::Status CudaStatus(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": CUDA error ", cudaGetErrorName(err), ": ", cudaGetErrorString(err)));
}

// The status of the last kernel launch (clears the sticky launch error, if any).
inline absl::Status CudaLastError(const char* kernel) { return CudaStatus(cudaGetLastError(), kernel); }

}  // namespace inference::cuda

#define RETURN_IF_CUDA_ERROR(expr)                                                   \
  do {                                                                               \
    ::absl::Status awq_cuda_status_ = ::inference::cuda::CudaStatus((expr), #expr);  \
    if (!awq_cuda_status_.ok()) return awq_cuda_status_;                             \
  } while (0)
