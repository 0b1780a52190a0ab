// One linear layer on the device, and the single place that decides which kernel runs it. A step's rows come in
// two kinds, prefill rows (of multi-token chunks) first, then decode rows (one token of a sequence):
//   AWQ, 1-32 decode rows    -> the W4A16 tensor-core GEMM, kind kNarrow (kernels/w4a16.h; K split fixed per shape)
//   AWQ, 33-128 decode rows  -> the W4A16 GEMM, kind kWide (wgmma; its own K split, fixed per shape)
//   AWQ, prefill rows        -> dequantize to fp16 scratch, then cuBLAS (compute-bound; one fixed algorithm per
//                               shape, cublas_gemm.h, chosen for prefill chunks)
//   AWQ, more than 128       -> the same dequantized scratch, cuBLAS with the algorithm chosen for 256 rows
//   decode rows
//   dense fp16               -> cuBLAS with the prefill chunks' algorithm, every row
// plus the fp16 lm_head with fp32 logits (an algorithm per decode row class: 1-32, 33-128, more). Each path gives a
// row the same bits whatever the other rows, so a sequence's result does not depend on its batch as long as its path
// stays the same: prefill chunks always, decode steps within 1-32 sequences, within 33-128 and above. A linear whose
// input is add+RMSNorm's output (RunNormLinear) gets the norm computed by the kNarrow GEMM itself at one decode row,
// with the bits of the AddRmsNorm kernel. Borrowed device pointers only; nothing allocated per call.
//
// Thread-safety: a LinearContext belongs to one stream and one thread.
//
//   LinearContext ctx{stream, cublas, scratch, scratch_bytes, gemm_ws, gemm_ws_bytes, counters, num_counters};
//   RETURN_IF_ERROR(RunLinear(layer.qkv, x, LinearRows{prefill, decode}, qkv_out, ctx));
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "inference/cuda/cublas_gemm.h"
#include "inference/cuda/kernels/elementwise.h"

namespace inference::cuda {

struct DeviceLinear {
  const uint32_t* qweight = nullptr;    // AWQ, kernel layout (kernels/w4a16.h)
  const __half2* scale_zero = nullptr;  // AWQ
  const __half* dense = nullptr;        // unquantized: [n][k]
  int n = 0, k = 0, group = 0;
  int splits = 1;                       // AWQ: the kNarrow GEMM's K split (W4A16GemmSplits), fixed at upload
  int wide_splits = 1;                  // AWQ: the kWide GEMM's
  int interleave = 0;                   // gate/up: the two parts' columns in alternating runs of this many (AWQ:
                                        // kW4SiluRun when the width allows), 0: the parts one after the other
};

struct LinearContext {
  cudaStream_t stream = nullptr;
  CublasGemm* cublas = nullptr;      // fixed-algorithm dense GEMMs (prefill rows, dense linears, lm_head)
  __half* scratch = nullptr;   // LinearScratchBytes of the largest AWQ linear
  size_t scratch_bytes = 0;
  float* gemm_workspace = nullptr;   // LinearGemmWorkspaceBytes(largest linear, most decode rows)
  size_t gemm_workspace_bytes = 0;
  int32_t* gemm_counters = nullptr;  // zero-initialised; LinearGemmCounters(...) of the largest linear
  int num_gemm_counters = 0;
};

struct LinearRows {
  int prefill = 0;  // rows [0, prefill): multi-token chunks
  int decode = 0;   // rows [prefill, prefill + decode): one token each
  int total() const { return prefill + decode; }
};

size_t LinearScratchBytes(const DeviceLinear& w);
size_t LinearGemmWorkspaceBytes(const DeviceLinear& w, int decode_rows);
int LinearGemmCounters(const DeviceLinear& w, int decode_rows);

// y[r][n] = x[r][k] @ W for every row r of `rows` (x rows contiguous, ld k; y ld n).
[[nodiscard]] absl::Status RunLinear(const DeviceLinear& w, const __half* x, LinearRows rows, __half* y,
                                     const LinearContext& ctx);

// act[r][n / 2] = SiLU(gate) * up for the gate/up linear `w` (w.interleave says where its parts' columns are). A
// step of 1-8 decode rows and nothing else, with interleaved parts, gets it from the kNarrow GEMM's epilogue
// (W4A16GemmParams::silu_mul), one kernel fewer; otherwise RunLinear writes gate_up [r][n] and SiluMul reads it. The
// same bits either way (kernels/silu.cuh).
[[nodiscard]] absl::Status RunGateUpSiluMul(const DeviceLinear& w, const __half* x, LinearRows rows, __half* gate_up,
                                            __half* act, const LinearContext& ctx);

// RunLinear and RunGateUpSiluMul of AddRmsNorm(norm)'s rows (kernels/elementwise.h; norm.out is the input, norm.tokens
// the step's rows). A step of one decode row and nothing else, on AWQ weights of k <= kW4NormMaxK, with the residual
// written to a buffer of its own (norm.residual_out, when norm.delta is set), has the kNarrow GEMM compute the norm
// itself (W4A16NormInput, LaunchW4A16GemmNorm): one kernel fewer, the same bits, and norm.out is then not written.
// Otherwise AddRmsNorm runs first.
[[nodiscard]] absl::Status RunNormLinear(const AddRmsNormParams& norm, const DeviceLinear& w, LinearRows rows,
                                         __half* y, const LinearContext& ctx);
[[nodiscard]] absl::Status RunNormGateUpSiluMul(const AddRmsNormParams& norm, const DeviceLinear& w, LinearRows rows,
                                                __half* gate_up, __half* act, const LinearContext& ctx);

// logits[m][vocab] (fp32) = x[m][hidden] @ head^T, head fp16 [vocab][hidden].
[[nodiscard]] absl::Status RunLmHead(const __half* head, int vocab, int hidden, const __half* x, int m, float* logits,
                                     const LinearContext& ctx);

}  // namespace inference::cuda
