// Kernel layout -> fp16 W^T [n][k], the operand cuBLAS multiplies for prefill chunks. One CTA per 64 x 64 block:
// each thread dequantizes one lane's k16 fragment (4 words, 32 weights) into a shared-memory tile, then the tile
// leaves as 128-byte rows.
#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/w4a16_fragment.cuh"

namespace inference::cuda {
namespace {

constexpr int kSteps = kW4StageK / kW4StepK;  // k16 steps per 64-k block: one warp each
constexpr int kThreads = kSteps * 32;
constexpr int kTilePad = 8;                    // halves of padding per tile row (keeps the half2 writes spread)

__global__ void __launch_bounds__(kThreads) DequantKernel(W4A16DequantParams p) {
  __shared__ __align__(16) __half tile[kW4BlockN][kW4StageK + kTilePad];
  const int block = blockIdx.y, chunk = blockIdx.x;  // 64 columns, 64 k
  const int s_local = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int steps = p.k / kW4StepK, groups = p.k / p.group;
  const int k0 = chunk * kW4StageK;
  const uint4 q = reinterpret_cast<const uint4*>(p.qweight)[(static_cast<int64_t>(block) * steps + k0 / kW4StepK + s_local) * 32 + lane];
  const W4GroupScales sc = LoadW4GroupScales(p.scale_zero, block, k0 / p.group, groups, lane);
  const uint32_t words[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    __half2 w[4];
    DequantW4Word(words[j], sc, j, w);
#pragma unroll
    for (int part = 0; part < 4; ++part) {
      const int c = 8 * (2 * j + part / 2) + lane / 4;
      const int kk = s_local * kW4StepK + 2 * (lane % 4) + 8 * (part % 2);
      *reinterpret_cast<__half2*>(&tile[c][kk]) = w[part];
    }
  }
  __syncthreads();
  constexpr int kVecPerRow = kW4StageK / 8;  // uint4 per tile row
  for (int v = threadIdx.x; v < kW4BlockN * kVecPerRow; v += kThreads) {
    const int c = v / kVecPerRow, part = v % kVecPerRow;
    *reinterpret_cast<uint4*>(p.out + static_cast<int64_t>(block * kW4BlockN + c) * p.k + k0 + 8 * part) =
        *reinterpret_cast<const uint4*>(&tile[c][8 * part]);
  }
}

}  // namespace

absl::Status ValidateW4A16Dequant(const W4A16DequantParams& p) {
  if (!p.qweight || !p.scale_zero || !p.out) return absl::InvalidArgumentError("w4a16 dequant: null pointer");
  return ValidateW4Shape("w4a16 dequant", p.n, p.k, p.group);
}

void LaunchW4A16Dequant(const W4A16DequantParams& p, cudaStream_t stream) {
  DequantKernel<<<dim3(p.k / kW4StageK, p.n / kW4BlockN), kThreads, 0, stream>>>(p);
}

}  // namespace inference::cuda
