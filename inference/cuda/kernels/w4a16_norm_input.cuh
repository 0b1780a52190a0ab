// The kNarrow GEMM's norm input (W4A16NormInput, w4a16.h) at one row: every CTA computes AddRmsNorm's output for its
// K range itself, with the bits of the AddRmsNorm kernel (rms_norm.cuh's order). Device code only; included by
// w4a16_gemm.cu.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "inference/cuda/kernels/rms_norm.cuh"
#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {

// The norm input (W4A16NormInput; one row): the CTA computes AddRmsNorm's output for its K range into shared
// memory, in rms_norm.cuh's order: thread t plays the norm's lanes t and t + 128 of kRmsLanes. The first CTA of the
// grid also writes residual_out. The weight is loaded before PdlWait (Load), the rest after it (Run, which ends with
// a CTA barrier).
template <int kThreads>
struct NormPrologue {
  static constexpr int kParts = kRmsLanes / kThreads;                  // lanes per thread
  static constexpr int kUnits = kW4NormMaxK / (kRmsUnit * kRmsLanes);  // units per lane
  static_assert(kParts * kThreads == kRmsLanes && kThreads % 32 == 0 && kUnits >= 1, "the CTA plays the norm's lanes");
  uint4 weight[kParts][kUnits];

  __device__ __forceinline__ static int Unit(int part, int u) {
    return u * kRmsLanes + part * kThreads + static_cast<int>(threadIdx.x);
  }
  __device__ __forceinline__ static bool InRange(int idx, int units, int k0, int k1) {
    return idx < units && idx * kRmsUnit >= k0 && idx * kRmsUnit < k1;
  }
  // The norm weight of the CTA's K range [k0, k1) of the row's k (before PdlWait: nothing writes it).
  __device__ __forceinline__ void Load(const W4A16NormInput& n, int k, int k0, int k1) {
    const int units = k / kRmsUnit;
#pragma unroll
    for (int part = 0; part < kParts; ++part)
#pragma unroll
      for (int u = 0; u < kUnits; ++u)
        if (InRange(Unit(part, u), units, k0, k1))
          weight[part][u] = reinterpret_cast<const uint4*>(n.weight)[Unit(part, u)];
  }
  // xs: the CTA's input, element e at xs + (e - k0); sums: kRmsWarps floats of shared memory.
  __device__ __forceinline__ void Run(const W4A16NormInput& n, int k, int k0, int k1, __half* xs, float* sums) {
    const int units = k / kRmsUnit;
    const float4* res = reinterpret_cast<const float4*>(n.residual);
    const uint4* delta = reinterpret_cast<const uint4*>(n.delta);
    float4 a[kParts][kUnits][2];
    uint4 d[kParts][kUnits];
#pragma unroll
    for (int part = 0; part < kParts; ++part)
#pragma unroll
      for (int u = 0; u < kUnits; ++u) {
        const int idx = Unit(part, u);
        if (idx < units) {
          a[part][u][0] = res[2 * idx], a[part][u][1] = res[2 * idx + 1];
          if (delta) d[part][u] = delta[idx];
        }
      }
    float v[kParts][kUnits][kRmsUnit];
#pragma unroll
    for (int part = 0; part < kParts; ++part) {
      float sq = 0.f;
#pragma unroll
      for (int u = 0; u < kUnits; ++u) {
        if (Unit(part, u) >= units) continue;
        RmsUnitOf(a[part][u][0], a[part][u][1], v[part][u]);
        if (delta) RmsAddDelta(v[part][u], d[part][u]);
        sq = RmsSquares(v[part][u], sq);
      }
      sq = RmsWarpSum(sq);
      if (threadIdx.x % 32 == 0) sums[(part * kThreads + threadIdx.x) / 32] = sq;
    }
    __syncthreads();
    const float inv = RmsInverse(sums, k, n.eps);
    const bool first = blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0;
#pragma unroll
    for (int part = 0; part < kParts; ++part)
#pragma unroll
      for (int u = 0; u < kUnits; ++u) {
        const int idx = Unit(part, u);
        if (idx >= units) continue;
        if (first && delta) {
          float4* out = reinterpret_cast<float4*>(n.residual_out) + 2 * idx;
          out[0] = make_float4(v[part][u][0], v[part][u][1], v[part][u][2], v[part][u][3]);
          out[1] = make_float4(v[part][u][4], v[part][u][5], v[part][u][6], v[part][u][7]);
        }
        if (InRange(idx, units, k0, k1))
          *reinterpret_cast<uint4*>(xs + (idx * kRmsUnit - k0)) = RmsScale(v[part][u], inv, weight[part][u]);
      }
    __syncthreads();
  }
};

}  // namespace inference::cuda
