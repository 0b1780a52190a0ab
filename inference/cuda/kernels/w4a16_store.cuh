// The W4A16 GEMM kernels' common epilogue: a CTA's fp32 tile results to y, directly as fp16 with one K range, or
// through the split-K workspace, the tile's last CTA adding every range's partial in range order (w4a16.h's
// contract: `counters` start at zero and are left at zero). Device code only; included by the GEMM .cu files.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {

// `for_each_pair(fn)` calls fn(row, col, v0, v1) for every pair of adjacent results (cols col, col + 1; rows < m)
// this thread holds; `holds` is false for threads holding none. Every thread of the CTA must call this, after the
// last use of shared memory. `tile` numbers the CTA's output tile among all tiles of the launch.
template <typename ForEachPair>
__device__ __forceinline__ void W4StoreTile(const W4A16GemmParams& p, int split, int tile, bool holds,
                                            ForEachPair&& for_each_pair) {
  if (p.splits == 1) {
    if (holds)
      for_each_pair([&](int row, int col, float v0, float v1) {
        *reinterpret_cast<__half2*>(p.y + static_cast<int64_t>(row) * p.ldy + col) = __floats2half2_rn(v0, v1);
      });
    return;
  }
  // Split K: publish this range's partial, then the tile's last CTA adds all ranges in order.
  const int64_t split_stride = static_cast<int64_t>(p.m) * p.n;
  if (holds) {
    for_each_pair([&](int row, int col, float v0, float v1) {
      *reinterpret_cast<float2*>(p.workspace + split * split_stride + static_cast<int64_t>(row) * p.n + col) =
          make_float2(v0, v1);
    });
    __threadfence();
  }
  __syncthreads();
  __shared__ int is_last;
  if (threadIdx.x == 0) {
    is_last = atomicAdd(&p.counters[tile], 1) == p.splits - 1;
    if (is_last) p.counters[tile] = 0;  // every other CTA of the tile has counted already
  }
  __syncthreads();
  if (!is_last || !holds) return;
  __threadfence();
  for_each_pair([&](int row, int col, float, float) {
    const float* src = p.workspace + static_cast<int64_t>(row) * p.n + col;
    float2 v = __ldcg(reinterpret_cast<const float2*>(src));
    for (int s = 1; s < p.splits; ++s) {
      const float2 o = __ldcg(reinterpret_cast<const float2*>(src + s * split_stride));
      v.x += o.x;
      v.y += o.y;
    }
    *reinterpret_cast<__half2*>(p.y + static_cast<int64_t>(row) * p.ldy + col) = __floats2half2_rn(v.x, v.y);
  });
}

// Launches a GEMM kernel of the kWide kind on `p` with `smem` bytes of dynamic shared memory, the kernel's limit
// raised once (a failure there surfaces as the launch error the caller checks).
template <auto kKernel>
void LaunchW4Kernel(const W4A16GemmParams& p, dim3 grid, int threads, int smem, cudaStream_t stream) {
  static const cudaError_t attr = cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  (void)attr;
  kKernel<<<grid, threads, smem, stream>>>(p);
}

}  // namespace inference::cuda
