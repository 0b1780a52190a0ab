// Linear-layer dispatch (linear.h).
#include "inference/cuda/linear.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "inference/cuda/cuda_check.h"
#include "inference/cuda/kernels/elementwise.h"
#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {
namespace {

// The algorithm of every cuBLAS GEMM is fixed per shape and row class from the heuristic at these row counts: a
// typical prefill chunk for prefill rows; 256 for decode steps of more than 128 rows (their CUDA-graph bucket). H200,
// bench/RESULTS.md: decode at batch 256 took 20.8 ms per step with the prefill chunk's algorithms, 16.1 with these.
constexpr int kPlanRowsLinear = 2048;
constexpr int kPlanRowsDecode = 256;
// The lm_head's, per the decode row classes below, so that a sampled row's logits change class where its linears
// do: its algorithm for 32 rows takes 67 us at 1 row but 285 us at 256, where the one chosen at 256 rows takes 140.
int LmHeadPlanRows(int m) { return m <= 32 ? 32 : m <= 128 ? 128 : 256; }

// Decode rows up to kW4NarrowMaxRows take the kNarrow GEMM, up to kW4WideMaxRows the kWide one, more go with the
// prefill rows through dequantize + cuBLAS. A batch of 32 computes what each of its sequences computes alone. H200,
// Mistral-7B shapes, per layer (bench/RESULTS.md): kNarrow 140 us at 32 rows against kWide's 162; at 64 rows kNarrow
// 280 against 196; at 128 rows kWide 294; at 256 kWide 574 against dequantize + cuBLAS's 501 (with the prefill
// chunk's algorithms; less with kPlanRowsDecode's). Engine steps at 128 rows: kWide 12.2-12.4 ms, dequantize +
// cuBLAS (256-row algorithms) 13.2.
constexpr int kW4NarrowMaxRows = 32;
constexpr int kW4WideMaxRows = 128;
// SiLU*up in the kNarrow GEMM's epilogue up to this many rows: engine steps 2.02 -> 1.98 ms at 1 row, 2.668 -> 2.650 at
// 8; at 32 rows 5.15 -> 5.25 (measured when one warp ran the whole epilogue: 32 products per lane where SiluMul spreads
// them; since the twelfth round each of the four warps stores a quarter of the tile, not re-measured at 32 rows).
constexpr int kSiluEpilogueMaxRows = 8;

bool SiluInEpilogue(const DeviceLinear& w, LinearRows rows) {
  return w.qweight && w.interleave == kW4SiluRun && rows.prefill == 0 && rows.decode >= 1 &&
         rows.decode <= kSiluEpilogueMaxRows;
}

W4A16GemmKind KindFor(int decode_rows) {
  return decode_rows <= kW4NarrowMaxRows ? W4A16GemmKind::kNarrow : W4A16GemmKind::kWide;
}
int SplitsFor(const DeviceLinear& w, W4A16GemmKind kind) {
  return kind == W4A16GemmKind::kNarrow ? w.splits : w.wide_splits;
}

// Row-major y[m][n] = x[m][k] @ w[n][k]^T.
absl::Status Gemm(const __half* w, int n, int k, const __half* x, int m, void* y, cudaDataType_t y_type,
                  int plan_rows, const LinearContext& ctx) {
  if (!ctx.cublas) return absl::InternalError("linear: no cuBLAS context");
  return ctx.cublas->Run(w, n, k, x, m, y, y_type, plan_rows, ctx.stream);
}

// W dequantized once into the scratch, then the prefill rows and the decode rows each with their own plan.
absl::Status DequantGemm(const DeviceLinear& w, const __half* x, LinearRows rows, __half* y, const LinearContext& ctx) {
  if (ctx.scratch_bytes < W4A16DequantWorkspaceBytes(w.n, w.k))
    return absl::InternalError(absl::StrCat("linear: scratch of ", ctx.scratch_bytes, " bytes < ",
                                            W4A16DequantWorkspaceBytes(w.n, w.k)));
  const W4A16DequantParams p{w.qweight, w.scale_zero, w.n, w.k, w.group, ctx.scratch};
  RETURN_IF_ERROR(ValidateW4A16Dequant(p));
  LaunchW4A16Dequant(p, ctx.stream);
  RETURN_IF_ERROR(CudaLastError("w4a16 dequant"));
  if (rows.prefill > 0)
    RETURN_IF_ERROR(Gemm(ctx.scratch, w.n, w.k, x, rows.prefill, y, CUDA_R_16F, kPlanRowsLinear, ctx));
  if (rows.decode == 0) return absl::OkStatus();
  return Gemm(ctx.scratch, w.n, w.k, x + static_cast<int64_t>(rows.prefill) * w.k, rows.decode,
              y + static_cast<int64_t>(rows.prefill) * w.n, CUDA_R_16F, kPlanRowsDecode, ctx);
}

// x or, with norm, the norm's row as the input (m = 1).
absl::Status W4Gemm(const DeviceLinear& w, const __half* x, int m, __half* y, const LinearContext& ctx,
                    bool silu_mul = false, const W4A16NormInput* norm = nullptr) {
  const W4A16GemmKind kind = KindFor(m);
  const int splits = SplitsFor(w, kind);
  const bool wide_split = kind == W4A16GemmKind::kWide && splits > 1;  // kNarrow adds its splits in a cluster
  if (wide_split && (ctx.gemm_workspace_bytes < W4A16GemmWorkspaceBytes(m, w.n, splits) ||
                     ctx.num_gemm_counters < W4A16GemmCounters(m, w.n)))
    return absl::InternalError(absl::StrCat("linear: gemm workspace of ", ctx.gemm_workspace_bytes, " bytes and ",
                                            ctx.num_gemm_counters, " counters too small for ", m, " rows x ", w.n));
  W4A16GemmParams p;
  p.x = x, p.ldx = w.k, p.qweight = w.qweight, p.scale_zero = w.scale_zero, p.y = y, p.ldy = silu_mul ? w.n / 2 : w.n;
  p.m = m, p.n = w.n, p.k = w.k, p.group = w.group, p.kind = kind, p.splits = splits, p.silu_mul = silu_mul;
  p.workspace = ctx.gemm_workspace, p.counters = ctx.gemm_counters;
  if (norm) {
    RETURN_IF_ERROR(ValidateW4A16GemmNorm(p, *norm));
    LaunchW4A16GemmNorm(p, *norm, ctx.stream);
    return CudaLastError("w4a16 gemm");
  }
  RETURN_IF_ERROR(ValidateW4A16Gemm(p));
  LaunchW4A16Gemm(p, ctx.stream);
  return CudaLastError("w4a16 gemm");
}

// The GEMM's norm input for AddRmsNorm(n) when the step lets the kNarrow GEMM compute it (linear.h), else nullopt.
std::optional<W4A16NormInput> FusedNorm(const AddRmsNormParams& n, const DeviceLinear& w, LinearRows rows) {
  const bool one_row = w.qweight && rows.prefill == 0 && rows.decode == 1 && n.tokens == 1 && !n.rows;
  const W4A16NormInput in{n.residual, n.delta, n.residual_out, n.weight, n.eps};
  if (!one_row || n.hidden != w.k || !ValidateW4A16NormInput(in, w.k).ok()) return std::nullopt;
  return in;
}

// AddRmsNorm(n) as its own kernel, its output the linear's input.
absl::Status LaunchNorm(const AddRmsNormParams& n, const LinearContext& ctx) {
  LaunchAddRmsNorm(n, ctx.stream);
  return CudaLastError("add_rmsnorm");
}

}  // namespace

size_t LinearScratchBytes(const DeviceLinear& w) {
  return w.qweight ? W4A16DequantWorkspaceBytes(w.n, w.k) : 0;
}

size_t LinearGemmWorkspaceBytes(const DeviceLinear& w, int decode_rows) {
  if (!w.qweight || decode_rows <= kW4NarrowMaxRows) return 0;
  return W4A16GemmWorkspaceBytes(std::min(decode_rows, kW4WideMaxRows), w.n, w.wide_splits);
}

int LinearGemmCounters(const DeviceLinear& w, int decode_rows) {
  return w.qweight && decode_rows > kW4NarrowMaxRows && w.wide_splits > 1
             ? W4A16GemmCounters(std::min(decode_rows, kW4WideMaxRows), w.n)
             : 0;
}

absl::Status RunLinear(const DeviceLinear& w, const __half* x, LinearRows rows, __half* y, const LinearContext& ctx) {
  if (rows.prefill < 0 || rows.decode < 0 || rows.total() == 0)
    return absl::InvalidArgumentError(absl::StrCat("linear: rows prefill=", rows.prefill, " decode=", rows.decode,
                                                   " (need >= 0 each and at least one row)"));
  if (w.dense) return Gemm(w.dense, w.n, w.k, x, rows.total(), y, CUDA_R_16F, kPlanRowsLinear, ctx);
  if (!w.qweight)
    return absl::InvalidArgumentError(absl::StrCat("linear: no kernel for n=", w.n, " k=", w.k,
                                                   " (neither AWQ nor dense weights bound)"));
  if (rows.decode > kW4WideMaxRows) return DequantGemm(w, x, rows, y, ctx);
  if (rows.prefill > 0) RETURN_IF_ERROR(DequantGemm(w, x, LinearRows{rows.prefill, 0}, y, ctx));
  if (rows.decode > 0)
    RETURN_IF_ERROR(W4Gemm(w, x + static_cast<int64_t>(rows.prefill) * w.k, rows.decode,
                           y + static_cast<int64_t>(rows.prefill) * w.n, ctx));
  return absl::OkStatus();
}

absl::Status RunGateUpSiluMul(const DeviceLinear& w, const __half* x, LinearRows rows, __half* gate_up,
                              __half* act, const LinearContext& ctx) {
  if (SiluInEpilogue(w, rows))
    return W4Gemm(w, x, rows.decode, act, ctx, /*silu_mul=*/true);
  RETURN_IF_ERROR(RunLinear(w, x, rows, gate_up, ctx));
  SiluMulParams p{gate_up, act, rows.total(), w.n / 2};
  p.interleave = w.interleave;
  RETURN_IF_ERROR(ValidateSiluMul(p));
  LaunchSiluMul(p, ctx.stream);
  return CudaLastError("silu_mul");
}

absl::Status RunNormLinear(const AddRmsNormParams& norm, const DeviceLinear& w, LinearRows rows, __half* y,
                           const LinearContext& ctx) {
  RETURN_IF_ERROR(ValidateAddRmsNorm(norm));
  if (const std::optional<W4A16NormInput> fused = FusedNorm(norm, w, rows))
    return W4Gemm(w, nullptr, 1, y, ctx, /*silu_mul=*/false, &*fused);
  RETURN_IF_ERROR(LaunchNorm(norm, ctx));
  return RunLinear(w, norm.out, rows, y, ctx);
}

absl::Status RunNormGateUpSiluMul(const AddRmsNormParams& norm, const DeviceLinear& w, LinearRows rows,
                                  __half* gate_up, __half* act, const LinearContext& ctx) {
  RETURN_IF_ERROR(ValidateAddRmsNorm(norm));
  if (const std::optional<W4A16NormInput> fused = FusedNorm(norm, w, rows); fused && SiluInEpilogue(w, rows))
    return W4Gemm(w, nullptr, 1, act, ctx, /*silu_mul=*/true, &*fused);
  RETURN_IF_ERROR(LaunchNorm(norm, ctx));
  return RunGateUpSiluMul(w, norm.out, rows, gate_up, act, ctx);
}

absl::Status RunLmHead(const __half* head, int vocab, int hidden, const __half* x, int m, float* logits,
                       const LinearContext& ctx) {
  return Gemm(head, vocab, hidden, x, m, logits, CUDA_R_32F, LmHeadPlanRows(m), ctx);
}

}  // namespace inference::cuda
