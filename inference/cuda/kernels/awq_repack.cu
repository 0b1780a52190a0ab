// AWQ GEMM checkpoint layout -> the kernel layout of w4a16.h. Runs once per linear at load.
#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {
namespace {

constexpr int kThreads = 256;

// The nibble of AWQ's packed word that holds column offset r (inverse of kAwqOrder).
__device__ __forceinline__ int AwqNibbleOfColumn(int r) { return (r % 2) * 4 + r / 2; }

__device__ __forceinline__ uint32_t AwqNibble(const int32_t* packed, int row, int col, int n) {
  const uint32_t word = static_cast<uint32_t>(packed[static_cast<int64_t>(row) * (n / 8) + col / 8]);
  return (word >> (4 * AwqNibbleOfColumn(col % 8))) & 0xFu;
}

// One thread per output word (column n, word w).
__global__ void RepackWeightKernel(AwqRepackParams p) {
  const int64_t words_per_row = p.k / 8;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= words_per_row * p.n) return;
  const int col = static_cast<int>(idx / words_per_row);
  const int w = static_cast<int>(idx % words_per_row);
  uint32_t out = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) out |= AwqNibble(p.qweight, 8 * w + j, col, p.n) << (4 * NibbleOfJ(j));
  p.out_qweight[W4WordIndex(p.row_offset + col, w, p.k)] = out;
}

// One thread per (column, group).
__global__ void RepackScaleZeroKernel(AwqRepackParams p) {
  const int groups = p.k / p.group;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<int64_t>(groups) * p.n) return;
  const int col = static_cast<int>(idx / groups);
  const int g = static_cast<int>(idx % groups);
  const __half scale = p.scales[static_cast<int64_t>(g) * p.n + col];
  const __half zero = __int2half_rn(static_cast<int>(AwqNibble(p.qzeros, g, col, p.n)));
  p.out_scale_zero[W4GroupIndex(p.row_offset + col, g, groups)] = __halves2half2(scale, zero);
}

}  // namespace

absl::Status ValidateAwqRepack(const AwqRepackParams& p) {
  if (!p.qweight || !p.qzeros || !p.scales || !p.out_qweight || !p.out_scale_zero)
    return absl::InvalidArgumentError("awq repack: null pointer");
  if (p.k <= 0 || p.n <= 0 || p.n % kW4TileN != 0)
    return absl::InvalidArgumentError(absl::StrCat("awq repack: out_features=", p.n, " must be a positive multiple of ",
                                                   kW4TileN));
  if (p.group <= 0 || p.group % kW4StepK != 0 || p.k % p.group != 0)
    return absl::InvalidArgumentError(absl::StrCat("awq repack: group_size=", p.group, " must be a multiple of ",
                                                   kW4StepK, " dividing in_features=", p.k));
  if (p.row_offset < 0 || p.row_offset % kW4TileN != 0)
    return absl::InvalidArgumentError(absl::StrCat("awq repack: row_offset=", p.row_offset, " must be a multiple of ",
                                                   kW4TileN));
  return absl::OkStatus();
}

void LaunchAwqRepack(const AwqRepackParams& p, cudaStream_t stream) {
  const int64_t words = static_cast<int64_t>(p.k / 8) * p.n;
  RepackWeightKernel<<<static_cast<unsigned>((words + kThreads - 1) / kThreads), kThreads, 0, stream>>>(p);
  const int64_t groups = static_cast<int64_t>(p.k / p.group) * p.n;
  RepackScaleZeroKernel<<<static_cast<unsigned>((groups + kThreads - 1) / kThreads), kThreads, 0, stream>>>(p);
}

}  // namespace inference::cuda
