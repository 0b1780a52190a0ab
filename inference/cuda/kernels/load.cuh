// Global loads with cache hints, shared by the kernels. Device code only.
#pragma once

#include <cuda_runtime.h>

namespace inference::cuda {

// 16 bytes read once (streamed weights, the KV cache): read-only path, not kept in L1. 16-byte aligned.
__device__ __forceinline__ uint4 LoadStream(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

}  // namespace inference::cuda
