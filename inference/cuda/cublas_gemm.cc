// Fixed-algorithm cuBLASLt GEMMs (cublas_gemm.h).
#include "inference/cuda/cublas_gemm.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace inference::cuda {
namespace {

constexpr size_t kWorkspaceBytes = 32u << 20;  // cuBLAS' recommended workspace on Hopper
constexpr int kHeuristicCandidates = 16;

absl::Status LtStatus(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("cuBLASLt ", what, ": status ", static_cast<int>(s)));
}

// Column-major layouts of the row-major operands: x[m][k] is k x m (ld k), y[m][n] is n x m (ld n).
struct Layouts {
  cublasLtMatrixLayout_t x = nullptr, y = nullptr;
  ~Layouts() {
    if (x) cublasLtMatrixLayoutDestroy(x);
    if (y) cublasLtMatrixLayoutDestroy(y);
  }
  absl::Status Make(int n, int k, int m, cudaDataType_t y_type) {
    RETURN_IF_ERROR(LtStatus(cublasLtMatrixLayoutCreate(&x, CUDA_R_16F, k, m, k), "x layout"));
    return LtStatus(cublasLtMatrixLayoutCreate(&y, y_type, n, m, n), "y layout");
  }
};

int SplitK(const cublasLtMatmulAlgo_t& algo) {
  int32_t splits = 1;
  size_t written = 0;
  cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splits, sizeof(splits), &written);
  return written == sizeof(splits) ? splits : 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CublasGemm>> CublasGemm::Create() {
  std::unique_ptr<CublasGemm> g(new CublasGemm());
  RETURN_IF_ERROR(LtStatus(cublasLtCreate(&g->lt_), "create"));
  ASSIGN_OR_RETURN(g->workspace_, DeviceBuffer::Allocate(kWorkspaceBytes, "cublasLt workspace"));
  return g;
}

CublasGemm::~CublasGemm() {
  for (auto& [key, plan] : plans_) {
    if (plan.w_layout) cublasLtMatrixLayoutDestroy(plan.w_layout);
    if (plan.desc) cublasLtMatmulDescDestroy(plan.desc);
  }
  if (lt_) cublasLtDestroy(lt_);
}

absl::StatusOr<CublasGemm::Plan*> CublasGemm::PlanFor(int n, int k, cudaDataType_t y_type, int plan_rows) {
  const auto key = std::make_tuple(n, k, static_cast<int>(y_type), plan_rows);
  if (auto it = plans_.find(key); it != plans_.end()) return &it->second;
  Plan plan;
  RETURN_IF_ERROR(LtStatus(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc"));
  const cublasOperation_t transpose = CUBLAS_OP_T;
  RETURN_IF_ERROR(LtStatus(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                                          sizeof(transpose)), "transa"));
  RETURN_IF_ERROR(LtStatus(cublasLtMatrixLayoutCreate(&plan.w_layout, CUDA_R_16F, k, n, k), "w layout"));
  Layouts l;
  RETURN_IF_ERROR(l.Make(n, k, plan_rows, y_type));
  cublasLtMatmulPreference_t pref = nullptr;
  RETURN_IF_ERROR(LtStatus(cublasLtMatmulPreferenceCreate(&pref), "preference"));
  const size_t ws = workspace_.bytes();
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  cublasLtMatmulHeuristicResult_t results[kHeuristicCandidates];
  int returned = 0;
  const cublasStatus_t h = cublasLtMatmulAlgoGetHeuristic(lt_, plan.desc, plan.w_layout, l.x, l.y, l.y, pref,
                                                          kHeuristicCandidates, results, &returned);
  cublasLtMatmulPreferenceDestroy(pref);
  RETURN_IF_ERROR(LtStatus(h, "heuristic"));
  // The fastest candidate that does not split K (a split's reduction order would follow the grid, hence m).
  int pick = -1;
  for (int i = 0; i < returned && pick < 0; ++i)
    if (results[i].state == CUBLAS_STATUS_SUCCESS && SplitK(results[i].algo) <= 1) pick = i;
  if (pick < 0)
    return absl::InternalError(absl::StrCat("cuBLASLt: no algorithm without split-K for n=", n, " k=", k, " among ",
                                            returned, " candidates"));
  plan.algo = results[pick].algo;
  return &(plans_[key] = plan);
}

absl::Status CublasGemm::Run(const __half* w, int n, int k, const __half* x, int m, void* y, cudaDataType_t y_type,
                             int plan_rows, cudaStream_t stream) {
  ASSIGN_OR_RETURN(Plan * plan, PlanFor(n, k, y_type, plan_rows));
  Layouts l;
  RETURN_IF_ERROR(l.Make(n, k, m, y_type));
  const float alpha = 1.f, beta = 0.f;
  return LtStatus(cublasLtMatmul(lt_, plan->desc, &alpha, w, plan->w_layout, x, l.x, &beta, y, l.y, y, l.y,
                                 &plan->algo, workspace_.as<void>(), workspace_.bytes(), stream),
                  "matmul");
}

}  // namespace inference::cuda
