// W4A16 kernels over AWQ weights: the load-time repack, the tensor-core GEMM that runs the decode rows (linear.h),
// and the dequantization to fp16 that feeds cuBLAS for prefill chunks. Kernels know nothing of requests; launchers
// never allocate.
//
// The repacked ("kernel") layout, decided once at load, for a linear y = x @ W with W [K, N], group G. It is the
// B-operand fragment order of mma.sync.m16n8k16 (row.col): a warp's k16 x n64 block is 32 lanes x 4 words, lane l
// holding the fragments of columns 8i + l/4 (i = 0..7, word j covers i = 2j and 2j + 1):
//   qweight     uint32 [N/64][K/16][32 lanes][4 words]   a warp reads 512 contiguous bytes per k16 step;
//               word j, nibble p (p = 0..3) and nibble p + 4 hold W[k][c] and W[k + 1][c] with
//               c = 64b + 8(2j + p/2) + l/4 and k = 16s + 2(l%4) + 8(p%2): masking (word >> 4p) with 0x000F000F
//               yields the half2 (k, k + 1) the fragment wants, register p of the word's two n8 tiles.
//   scale_zero  half2  [N/64][K/G][8 (l/4)][8 (i)]  (scale, zero) of column 64b + 8i + l/4; the zero is an integer
//               0..15, exact in fp16: the 4 lanes sharing l/4 read the same 32 bytes.
//   W[k, n] = (q[k, n] - zero[k/G, n]) * scale[k/G, n], rounded to fp16 once (the AWQ formula of
//   ../shared/tools/awq_reference.py, and what transformers multiplies in fp16).
// Linears that share an input (q/k/v, gate/up) are fused by repacking each into consecutive columns of one buffer,
// or (gate/up, for the GEMM's SiLU*up epilogue) into alternating runs of kW4SiluRun columns.
//
// Batch invariance: within one kind (W4A16GemmKind) the GEMM splits K the same way for every row count
// (W4A16GemmSplits depends on the kind, N, K and the device only) and adds partial sums in a fixed order, so a row's
// output never depends on the other rows.
//
// Thread-safety: launchers are reentrant; launches on one stream that share a workspace run in order.
//
//   AwqRepackParams rp{awq_qweight, awq_qzeros, awq_scales, k, n, group, packed.qweight, packed.scale_zero};
//   RETURN_IF_ERROR(ValidateAwqRepack(rp));
//   LaunchAwqRepack(rp, stream);
//   W4A16GemmParams gp{x, k, packed.qweight, packed.scale_zero, y, n, m, n, k, group, kind, splits, ws, counters};
//   RETURN_IF_ERROR(ValidateW4A16Gemm(gp));
//   LaunchW4A16Gemm(gp, stream);
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

// AWQ GEMM's nibble order: nibble i of a packed word holds column 8c + kAwqOrder[i].
inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
// Columns per packed block (a warp's eight n8 tiles) and k per mma step; N and K must be multiples of these, and
// the group a multiple of kW4StageK (the GEMM's pipeline stage, one group's scales per stage).
inline constexpr int kW4BlockN = 64;
inline constexpr int kW4UnitN = 16;  // columns of one packed word (two n8 tiles): the granularity of fused parts
inline constexpr int kW4StepK = 16;
inline constexpr int kW4StageK = 64;
inline constexpr int kW4SiluRun = 32;  // gate/up fused for silu_mul: runs of 32 gate then 32 up columns per block

// Word index of (column n, k) in the kernel layout and the nibble that holds it; index of (column n, group g).
__host__ __device__ constexpr int64_t W4WordIndex(int n, int k, int k_total) {
  const int l = ((n % 8) * 4) + (k % 8) / 2, i = (n % kW4BlockN) / 8;
  return ((static_cast<int64_t>(n / kW4BlockN) * (k_total / kW4StepK) + k / kW4StepK) * 32 + l) * 4 + i / 2;
}
__host__ __device__ constexpr int W4NibbleIndex(int n, int k) {
  const int p = 2 * (((n % kW4BlockN) / 8) % 2) + (k % kW4StepK) / 8;
  return p + 4 * (k % 2);
}
__host__ __device__ constexpr int64_t W4GroupIndex(int n, int g, int groups) {
  return ((static_cast<int64_t>(n / kW4BlockN) * groups + g) * 8 + n % 8) * 8 + (n % kW4BlockN) / 8;
}

// Checkpoint (AWQ GEMM) layout -> kernel layout, on the device, writing columns [col_offset, col_offset + n) of the
// fused destination (n and col_offset multiples of kW4UnitN; the fused width a multiple of kW4BlockN), or, with
// col_run > 0, the part's columns in runs of col_run, one run every col_stride fused columns from col_offset (gate/up
// interleaved in runs of kW4SiluRun: W4A16GemmParams::silu_mul).
struct AwqRepackParams {
  const int32_t* qweight = nullptr;   // [k][n/8]
  const int32_t* qzeros = nullptr;    // [k/group][n/8]
  const __half* scales = nullptr;     // [k/group][n]
  int k = 0, n = 0, group = 0;
  uint32_t* out_qweight = nullptr;    // kernel layout of all fused columns
  __half2* out_scale_zero = nullptr;
  int col_offset = 0;                 // a multiple of kW4UnitN
  int col_run = 0, col_stride = 0;    // 0: consecutive; else multiples of kW4UnitN, col_run dividing n
};
// Where column c of a part lands in the fused destination.
__host__ __device__ constexpr int AwqFusedColumn(const AwqRepackParams& p, int c) {
  return p.col_offset + (p.col_run > 0 ? c / p.col_run * p.col_stride + c % p.col_run : c);
}
[[nodiscard]] absl::Status ValidateAwqRepack(const AwqRepackParams& p);
void LaunchAwqRepack(const AwqRepackParams& p, cudaStream_t stream);

// The GEMM's two arithmetic classes. Both accumulate in fp32 on the tensor cores; they differ in the instruction and
// the order of the additions:
//   kNarrow  mma.sync.m16n8k16 with the operands swapped (16 weight columns x 8 activation rows): the tensor cores
//            multiply the exact integers (q - zero) and each group's fp32 sum is scaled once, so no weight is rounded
//            to fp16. A CTA's four warps take a quarter of its K range each, their sums added in order. For decode
//            steps of few rows, where streaming the weights once is all that matters (1-32 rows).
//   kWide    wgmma: the weights dequantized exactly as the dequant kernel does (one fp16 rounding of (q - zero) *
//            scale), each output one chain of k16 steps over its K range (33-128 rows). Two kernels compute these
//            same bits: activations as wgmma's A (m64n64k16) with each 64-k stage of weights dequantized into shared
//            memory (w4a16_wide.cu), or weights as A, dequantized in registers, and activation rows as N
//            (m64n64k16 / m64n128k16, w4a16_wide_swapped.cu).
// Every config of one kind computes the same bits; the two kinds round differently (both within fp32 rounding of
// the exact sum).
enum class W4A16GemmKind { kNarrow, kWide };

// The GEMM's input as AddRmsNorm's output (elementwise.h) of one row (LaunchW4A16GemmNorm), computed by each CTA of a
// kNarrow launch of one row instead of read from x, in the same order and so with the same bits (rms_norm.cuh):
// h = residual + delta, input = half(h * rsqrt(mean(h^2) + eps) * weight). With delta, one CTA writes h to
// residual_out, which must then be another buffer than residual (the other CTAs are still reading that). One kernel
// fewer per norm in a decode step of one sequence. Rows of k floats / halves, 16-byte aligned; k up to kW4NormMaxK.
struct W4A16NormInput {
  const float* residual = nullptr;
  const __half* delta = nullptr;    // or null
  float* residual_out = nullptr;    // with delta
  const __half* weight = nullptr;
  float eps = 0.f;
};
inline constexpr int kW4NormMaxK = 4096;

// y[m][n] = sum_k x[m][k] * W[k][n]: fp16 in and out, fp16 operands on the tensor cores, fp32 accumulation. Any
// m >= 1. K is cut into `splits` ranges (W4A16GemmSplits for the kind), their fp32 partials added in range order:
// kNarrow within a cluster of the ranges' CTAs; kWide through `workspace`, the last CTA of a tile adding them
// (`counters` must start at zero; they are left at zero).
struct W4A16GemmParams {
  const __half* x = nullptr;           // [m][ldx], rows 16-byte aligned (ldx a multiple of 8)
  int64_t ldx = 0;
  const uint32_t* qweight = nullptr;   // kernel layout
  const __half2* scale_zero = nullptr;
  __half* y = nullptr;                 // [m][ldy]
  int64_t ldy = 0;
  int m = 0, n = 0, k = 0, group = 0;
  W4A16GemmKind kind = W4A16GemmKind::kNarrow;
  int splits = 1;
  float* workspace = nullptr;          // kWide: W4A16GemmWorkspaceBytes(m, n, splits) when splits > 1
  int32_t* counters = nullptr;         // kWide: W4A16GemmCounters(m, n) ints when splits > 1
  // kNarrow only: the columns are gate and up interleaved in runs of kW4SiluRun (AwqRepackParams::col_run), and y
  // [m][ldy >= n / 2] receives SiLU(gate) * up of the fp16-rounded products, as SiluMul computes it (silu.cuh).
  bool silu_mul = false;
};
inline constexpr int kW4MaxSplits = 8;
// The K split of a kind for an [n x k] weight on a device with sm_count SMs: kNarrow aims at three CTAs per SM at
// one row and splits at whole groups, kWide aims at one CTA per SM for 128-column tiles.
int W4A16GemmSplits(W4A16GemmKind kind, int n, int k, int sm_count);
size_t W4A16GemmWorkspaceBytes(int m, int n, int splits);
int W4A16GemmCounters(int m, int n);
[[nodiscard]] absl::Status ValidateW4A16Gemm(const W4A16GemmParams& p);
void LaunchW4A16Gemm(const W4A16GemmParams& p, cudaStream_t stream);
// The GEMM of one row (kind kNarrow, m = 1) whose input is `norm`'s; p.x is not read (may be null).
// ValidateW4A16NormInput: the norm input's own rules for a row of k (W4A16NormInput above), also what a caller asks
// before choosing this GEMM over AddRmsNorm then ValidateW4A16Gemm's.
[[nodiscard]] absl::Status ValidateW4A16NormInput(const W4A16NormInput& norm, int k);
[[nodiscard]] absl::Status ValidateW4A16GemmNorm(const W4A16GemmParams& p, const W4A16NormInput& norm);
void LaunchW4A16GemmNorm(const W4A16GemmParams& p, const W4A16NormInput& norm, cudaStream_t stream);

// The GEMM's CTA shapes. kNarrow: mt n8 row tiles per CTA (8 * mt rows), `stages` 64-k units of weights in flight
// per warp (2: in registers; more: a shared-memory ring filled by bulk copies), mw = nw = sk = 1. kWide: mw
// warpgroups of 64 rows (mt = 4), nw 64-column blocks per CTA (n a multiple of 64 * nw), `stages` cp.async stages,
// sk = 1; swapped: 16 * mt rows per CTA (64 or 128), nw warpgroups of one column block each, mw = sk = 1. None
// changes a row's arithmetic (only the kind, the K split and the reduction order do), so the configs of a kind
// compute bit-identical results; LaunchW4A16Gemm picks W4A16GemmDefaultConfig, the benchmark tries all.
struct W4A16GemmConfig {
  W4A16GemmKind kind = W4A16GemmKind::kNarrow;
  int mw = 1, mt = 1, nw = 1, sk = 4, stages = 3;
  bool swapped = false;  // kWide with the weights as wgmma's A: mt = rows per CTA / 16, nw = warpgroups
  int x_rows = 0;        // kNarrow's bulk-copy ring: activation rows per slot (0: the tile's 8 * mt); a launch of more
                         // rows than that runs the tile-sized ring
};
inline bool operator==(const W4A16GemmConfig& a, const W4A16GemmConfig& b) {
  return a.kind == b.kind && a.mw == b.mw && a.mt == b.mt && a.nw == b.nw && a.sk == b.sk && a.stages == b.stages &&
         a.swapped == b.swapped && a.x_rows == b.x_rows;
}
// The config LaunchW4A16Gemm picks for m rows of an n-column weight cut into `splits` K ranges on sm_count SMs.
W4A16GemmConfig W4A16GemmDefaultConfig(W4A16GemmKind kind, int m, int n, int splits, int sm_count);
const W4A16GemmConfig* W4A16GemmConfigs(int* count);
[[nodiscard]] absl::Status LaunchW4A16GemmWith(const W4A16GemmParams& p, const W4A16GemmConfig& c,
                                               cudaStream_t stream);
// The same with a norm input: the bulk-copy kNarrow configs only.
[[nodiscard]] absl::Status LaunchW4A16GemmNormWith(const W4A16GemmParams& p, const W4A16NormInput& norm,
                                                   const W4A16GemmConfig& c, cudaStream_t stream);

// W as fp16 [n][k] (nn.Linear's layout, W transposed), for cuBLAS.
struct W4A16DequantParams {
  const uint32_t* qweight = nullptr;
  const __half2* scale_zero = nullptr;
  int n = 0, k = 0, group = 0;
  __half* out = nullptr;               // [n][k]
};
[[nodiscard]] absl::Status ValidateW4A16Dequant(const W4A16DequantParams& p);
void LaunchW4A16Dequant(const W4A16DequantParams& p, cudaStream_t stream);
inline size_t W4A16DequantWorkspaceBytes(int n, int k) { return static_cast<size_t>(n) * k * sizeof(__half); }

// Shape rule shared by every W4A16 kernel: an INVALID_ARGUMENT naming `what` and the numbers, or OK.
[[nodiscard]] absl::Status ValidateW4Shape(const char* what, int n, int k, int group);

}  // namespace inference::cuda
