// The arithmetic of add + RMSNorm (AddRmsNormParams, elementwise.h), shared by its kernel and by the kNarrow GEMM's
// norm prologue (W4A16NormInput, w4a16_gemm.cu) so that both compute the same bits. Written with explicit
// roundings, so that no inlining site contracts or reorders differently. Device code only.
//
// A row's sum of squares has one fixed shape, whatever runs it: kRmsLanes partial sums, lane i's over the 8-element
// units i, i + kRmsLanes, i + 2 kRmsLanes, ... in order (one fma per element, in element order); each warp's 32 lanes
// added by a butterfly (xor 16, 8, 4, 2, 1); the kRmsWarps warps' sums added in order from zero. Then
// inv = rsqrt(sum / hidden + eps), and element e of the output is half((residual[e] + delta[e]) * inv * weight[e]).
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

namespace inference::cuda {

inline constexpr int kRmsLanes = 256;
inline constexpr int kRmsWarps = kRmsLanes / 32;
inline constexpr int kRmsUnit = 8;  // elements per unit: one 16-byte load of halves, two float4 of the fp32 residual

// v (a unit of the fp32 residual) += delta's unit d.
__device__ __forceinline__ void RmsAddDelta(float (&v)[kRmsUnit], const uint4& d) {
  const __half* dh = reinterpret_cast<const __half*>(&d);
#pragma unroll
  for (int e = 0; e < kRmsUnit; ++e) v[e] = __fadd_rn(v[e], __half2float(dh[e]));
}

// A lane's running sum of squares over one more unit.
__device__ __forceinline__ float RmsSquares(const float (&v)[kRmsUnit], float sq) {
#pragma unroll
  for (int e = 0; e < kRmsUnit; ++e) sq = __fmaf_rn(v[e], v[e], sq);
  return sq;
}

// A warp's 32 lane sums, the same total in every lane.
__device__ __forceinline__ float RmsWarpSum(float sq) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) sq = __fadd_rn(sq, __shfl_xor_sync(0xffffffffu, sq, off));
  return sq;
}

// inv from the kRmsWarps warp sums.
__device__ __forceinline__ float RmsInverse(const float* warp_sums, int hidden, float eps) {
  float total = 0.f;
#pragma unroll
  for (int w = 0; w < kRmsWarps; ++w) total = __fadd_rn(total, warp_sums[w]);
  return rsqrtf(__fadd_rn(__fdiv_rn(total, static_cast<float>(hidden)), eps));
}

// inv for a CTA of kRmsLanes threads, thread t being lane t with its running sum sq: the warp sums into warp_sums
// (kRmsWarps floats of shared memory), one barrier, then RmsInverse.
__device__ __forceinline__ float RmsBlockInverse(float sq, float* warp_sums, int hidden, float eps) {
  sq = RmsWarpSum(sq);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sq;
  __syncthreads();
  return RmsInverse(warp_sums, hidden, eps);
}

// A unit of the output: the 8 halves of half(v * inv * weight).
__device__ __forceinline__ uint4 RmsScale(const float (&v)[kRmsUnit], float inv, const uint4& weight) {
  const __half* wh = reinterpret_cast<const __half*>(&weight);
  uint4 o;
  __half* oh = reinterpret_cast<__half*>(&o);
#pragma unroll
  for (int e = 0; e < kRmsUnit; ++e) oh[e] = __float2half_rn(__fmul_rn(__fmul_rn(v[e], inv), __half2float(wh[e])));
  return o;
}

// A unit of the fp32 residual row from its two float4.
__device__ __forceinline__ void RmsUnitOf(const float4& a, const float4& b, float (&v)[kRmsUnit]) {
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

}  // namespace inference::cuda
