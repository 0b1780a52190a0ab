// Dense fp16 GEMMs through cuBLASLt with one algorithm per (n, k, output type), chosen once from the heuristic for a
// representative row count and used for every row count after, with K never split. cuBLAS's own per-call choice
// (cublasGemmEx) picks other kernels, split-K among them, as the row count changes, so a row's result would depend
// on how many rows share the call; with the algorithm fixed it does not (tests/gpu/w4a16_test.cc checks it).
//
// Ownership: owns its cuBLASLt handle, descriptors and workspace. Thread-safety: one thread (the engine's).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<CublasGemm> g, CublasGemm::Create());
//   RETURN_IF_ERROR(g->Run(w, n, k, x, m, y, CUDA_R_16F, /*plan_rows=*/2048, stream));
#pragma once

#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <tuple>

#include "absl/status/statusor.h"
#include "inference/cuda/device_memory.h"

namespace inference::cuda {

class CublasGemm {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CublasGemm>> Create();
  ~CublasGemm();
  CublasGemm(const CublasGemm&) = delete;
  CublasGemm& operator=(const CublasGemm&) = delete;

  // Row-major y[m][n] = x[m][k] @ w[n][k]^T, fp32 accumulation; y fp16 or fp32 (y_type). The algorithm for this
  // (n, k, y_type, plan_rows) is fixed at its first call, from the heuristic for plan_rows rows.
  [[nodiscard]] absl::Status Run(const __half* w, int n, int k, const __half* x, int m, void* y, cudaDataType_t y_type,
                                 int plan_rows, cudaStream_t stream);

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t w_layout = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  CublasGemm() = default;
  [[nodiscard]] absl::StatusOr<Plan*> PlanFor(int n, int k, cudaDataType_t y_type, int plan_rows);

  cublasLtHandle_t lt_ = nullptr;
  DeviceBuffer workspace_;
  std::map<std::tuple<int, int, int, int>, Plan> plans_;  // (n, k, y_type, plan_rows)
};

}  // namespace inference::cuda
