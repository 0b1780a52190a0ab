// Linear-layer dispatch (linear.h).
#include "inference/cuda/linear.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {
namespace {

absl::Status CublasStatus(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": cuBLAS status ", static_cast<int>(s)));
}

// Row-major y[m][n] = x[m][k] @ w[n][k]^T, i.e. column-major y^T (n x m) = w (as k x n, transposed) * x^T.
absl::Status Gemm(const __half* w, int n, int k, const __half* x, int m, void* y, cudaDataType_t y_type,
                  const LinearContext& ctx) {
  const float alpha = 1.f, beta = 0.f;
  return CublasStatus(cublasGemmEx(ctx.cublas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w, CUDA_R_16F, k, x,
                                   CUDA_R_16F, k, &beta, y, y_type, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                      "cublasGemmEx");
}

enum class LinearKernel { kGemv, kDequantGemm, kDenseGemm };

// Up to this many rows the GEMV beats dequantize + cuBLAS on every Mistral-7B linear; at 16 rows the GEMV's fp32
// FMAs make it slower (measured on an H200 with bench/engine/kernel_bench: gate_up 0.098 ms vs 0.169 ms at 8 rows,
// 0.220 ms vs 0.169 ms at 16).
constexpr int kGemvMaxRowsDispatched = 8;

// The dispatch table, in priority order: the first entry whose predicate holds runs the layer.
struct LinearRule {
  LinearKernel kernel;
  bool (*fits)(const DeviceLinear& w, int m);
};
constexpr LinearRule kLinearRules[] = {
    {LinearKernel::kGemv, [](const DeviceLinear& w, int m) { return w.qweight != nullptr && m <= kGemvMaxRowsDispatched; }},
    {LinearKernel::kDequantGemm, [](const DeviceLinear& w, int m) { return w.qweight != nullptr; }},
    {LinearKernel::kDenseGemm, [](const DeviceLinear& w, int m) { return w.dense != nullptr; }},
};

}  // namespace

size_t LinearScratchBytes(const DeviceLinear& w) {
  return w.qweight ? W4A16DequantWorkspaceBytes(w.n, w.k) : 0;
}

absl::Status RunLinear(const DeviceLinear& w, const __half* x, int m, __half* y, const LinearContext& ctx) {
  for (const LinearRule& rule : kLinearRules) {
    if (!rule.fits(w, m)) continue;
    switch (rule.kernel) {
      case LinearKernel::kGemv: {
        const W4A16GemvParams p{x, w.k, w.qweight, w.scale_zero, y, w.n, m, w.n, w.k, w.group};
        RETURN_IF_ERROR(ValidateW4A16Gemv(p));
        LaunchW4A16Gemv(p, ctx.stream);
        return CudaLastError("w4a16 gemv");
      }
      case LinearKernel::kDequantGemm: {
        if (ctx.scratch_bytes < W4A16DequantWorkspaceBytes(w.n, w.k))
          return absl::InternalError(absl::StrCat("linear: scratch of ", ctx.scratch_bytes, " bytes < ",
                                                  W4A16DequantWorkspaceBytes(w.n, w.k)));
        const W4A16DequantParams p{w.qweight, w.scale_zero, w.n, w.k, w.group, ctx.scratch};
        RETURN_IF_ERROR(ValidateW4A16Dequant(p));
        LaunchW4A16Dequant(p, ctx.stream);
        RETURN_IF_ERROR(CudaLastError("w4a16 dequant"));
        return Gemm(ctx.scratch, w.n, w.k, x, m, y, CUDA_R_16F, ctx);
      }
      case LinearKernel::kDenseGemm:
        return Gemm(w.dense, w.n, w.k, x, m, y, CUDA_R_16F, ctx);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("linear: no kernel for n=", w.n, " k=", w.k, " m=", m,
                                                 " (neither AWQ nor dense weights bound)"));
}

absl::Status RunLmHead(const __half* head, int vocab, int hidden, const __half* x, int m, float* logits,
                       const LinearContext& ctx) {
  return Gemm(head, vocab, hidden, x, m, logits, CUDA_R_32F, ctx);
}

}  // namespace inference::cuda
