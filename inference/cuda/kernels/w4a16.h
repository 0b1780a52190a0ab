// W4A16 kernels over AWQ weights: the load-time repack, the decode GEMV (1-16 rows) and the dequantization to fp16
// that feeds cuBLAS for prefill and large batches. Kernels know nothing of requests; launchers never allocate.
//
// The repacked ("kernel") layout, decided once at load, for a linear y = x @ W with W [K, N], group G: rows are
// the N output columns, in tiles of 32 (one per lane of a warp), K in steps of 64 (32 bytes of one row):
//   qweight     uint32 [N/32][K/64][32 lanes][8 words]   the warp reading one (tile, step) reads 1 KB contiguous;
//                                 word j of a step holds k = 64s + 8j + i (i = 0..7) in nibble kNibbleOfJ(i) =
//                                 i/2 + 4*(i%2), so masking with 0x000F000F after a shift of 4i' yields the half2
//                                 pair (k, k + 1) for k = 64s + 8j + 2i'
//   scale_zero  half2  [N/32][K/G][32 lanes]  (scale, zero) of each group; the zero is an integer 0..15, exact
//   W[k, n] = (q[k, n] - zero[k/G, n]) * scale[k/G, n]   (the AWQ formula of ../shared/tools/awq_reference.py)
// Linears that share an input (q/k/v, gate/up) are fused by repacking each into consecutive rows of one buffer.
//
// Thread-safety: launchers are reentrant; concurrent launches on one stream run in order.
//
//   AwqRepackParams rp{awq_qweight, awq_qzeros, awq_scales, k, n, group, packed.qweight, packed.scale_zero};
//   RETURN_IF_ERROR(ValidateAwqRepack(rp));
//   LaunchAwqRepack(rp, stream);
//   W4A16GemvParams gp{x, k, packed.qweight, packed.scale_zero, y, n, m, n, k, group};
//   RETURN_IF_ERROR(ValidateW4A16Gemv(gp));
//   LaunchW4A16Gemv(gp, stream);
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

// AWQ GEMM's nibble order: nibble i of a packed word holds column 8c + kAwqOrder[i].
inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
// Our order: k = 8w + j sits in nibble kNibbleOfJ(j).
__host__ __device__ constexpr int NibbleOfJ(int j) { return j / 2 + 4 * (j % 2); }
// Rows per tile (a warp's lanes) and k per step (two uint4 of one row); N, K and the group are multiples.
inline constexpr int kW4TileN = 32;
inline constexpr int kW4StepK = 64;
// Word index of (row n, packed word w = k/8) in the kernel layout, and of (row n, group g) in scale_zero.
__host__ __device__ constexpr int64_t W4WordIndex(int n, int w, int k) {
  return ((static_cast<int64_t>(n / kW4TileN) * (k / kW4StepK) + w / 8) * kW4TileN + n % kW4TileN) * 8 + w % 8;
}
__host__ __device__ constexpr int64_t W4GroupIndex(int n, int g, int groups) {
  return (static_cast<int64_t>(n / kW4TileN) * groups + g) * kW4TileN + n % kW4TileN;
}
// The decode GEMV handles up to this many activation rows; more go through dequantization + cuBLAS.
inline constexpr int kW4GemvMaxRows = 16;

// Checkpoint (AWQ GEMM) layout -> kernel layout, on the device, writing rows [row_offset, row_offset + n) of the
// fused destination.
struct AwqRepackParams {
  const int32_t* qweight = nullptr;   // [k][n/8]
  const int32_t* qzeros = nullptr;    // [k/group][n/8]
  const __half* scales = nullptr;     // [k/group][n]
  int k = 0, n = 0, group = 0;
  uint32_t* out_qweight = nullptr;    // kernel layout of all fused rows
  __half2* out_scale_zero = nullptr;
  int row_offset = 0;                 // a multiple of kW4TileN
};
[[nodiscard]] absl::Status ValidateAwqRepack(const AwqRepackParams& p);
void LaunchAwqRepack(const AwqRepackParams& p, cudaStream_t stream);

// y[m][n] = sum_k x[m][k] * W[k][n], fp16 in and out, fp32 accumulation. m in [1, kW4GemvMaxRows].
struct W4A16GemvParams {
  const __half* x = nullptr;           // [m][ldx], 16-byte aligned rows
  int64_t ldx = 0;
  const uint32_t* qweight = nullptr;   // kernel layout
  const __half2* scale_zero = nullptr;
  __half* y = nullptr;                 // [m][ldy]
  int64_t ldy = 0;
  int m = 0, n = 0, k = 0, group = 0;
};
[[nodiscard]] absl::Status ValidateW4A16Gemv(const W4A16GemvParams& p);
void LaunchW4A16Gemv(const W4A16GemvParams& p, cudaStream_t stream);

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

}  // namespace inference::cuda
