// Kernel layout -> fp16 W^T [n][k], the operand cuBLAS multiplies for prefill and large batches.
#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {
namespace {

constexpr int kThreads = 256;

// One thread per packed word of the kernel layout: 8 consecutive k of one row, written as one 16-byte store.
__global__ void DequantKernel(W4A16DequantParams p) {
  const int64_t words = static_cast<int64_t>(p.k / 8) * p.n;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= words) return;
  const int steps = p.k / kW4StepK;
  const int j = static_cast<int>(idx % 8), lane = static_cast<int>((idx / 8) % kW4TileN);
  const int64_t tile_step = idx / (8 * kW4TileN);
  const int step = static_cast<int>(tile_step % steps), tile = static_cast<int>(tile_step / steps);
  const int row = tile * kW4TileN + lane, w = step * 8 + j;
  const uint32_t word = p.qweight[idx];
  const float2 sz = __half22float2(p.scale_zero[W4GroupIndex(row, (8 * w) / p.group, p.k / p.group)]);
  __align__(16) __half out[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const float q = static_cast<float>((word >> (4 * NibbleOfJ(i))) & 0xFu);
    out[i] = __float2half_rn((q - sz.y) * sz.x);
  }
  *reinterpret_cast<uint4*>(p.out + static_cast<int64_t>(row) * p.k + 8 * w) = *reinterpret_cast<const uint4*>(out);
}

}  // namespace

absl::Status ValidateW4A16Dequant(const W4A16DequantParams& p) {
  if (!p.qweight || !p.scale_zero || !p.out) return absl::InvalidArgumentError("w4a16 dequant: null pointer");
  if (p.n <= 0 || p.n % kW4TileN != 0 || p.k <= 0 || p.k % kW4StepK != 0 || p.group <= 0 || p.k % p.group != 0 ||
      p.group % kW4StepK != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("w4a16 dequant: shape n=", p.n, " k=", p.k, " group=", p.group, " unsupported"));
  return absl::OkStatus();
}

void LaunchW4A16Dequant(const W4A16DequantParams& p, cudaStream_t stream) {
  const int64_t words = static_cast<int64_t>(p.k / 8) * p.n;
  DequantKernel<<<static_cast<unsigned>((words + kThreads - 1) / kThreads), kThreads, 0, stream>>>(p);
}

}  // namespace inference::cuda
