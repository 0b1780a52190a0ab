// SiLU(gate) * up of two fp16 values, rounded to fp16 once: the arithmetic of the SiluMul kernels and of the kNarrow
// GEMM's fused epilogue (W4A16GemmParams::silu_mul), written with explicit roundings so that every place it is
// inlined computes the same bits. Device code only.
#pragma once

#include <cuda_fp16.h>

namespace inference::cuda {

__device__ __forceinline__ __half SiluMulOf(__half gate, __half up) {
  const float g = __half2float(gate);
  return __float2half_rn(__fmul_rn(__fdiv_rn(g, __fadd_rn(1.f, expf(-g))), __half2float(up)));
}

}  // namespace inference::cuda
