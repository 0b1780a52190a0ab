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

// One thread per output word of this part: (16-column unit u, k16 step, lane). A word covers 16 columns (two n8
// tiles), so parts of 16-column multiples at 16-column offsets each own whole words.
__global__ void RepackWeightKernel(AwqRepackParams p) {
  const int steps = p.k / kW4StepK;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<int64_t>(p.n / kW4UnitN) * steps * 32) return;
  const int lane = static_cast<int>(idx % 32);
  const int s = static_cast<int>((idx / 32) % steps), u = static_cast<int>(idx / (32 * steps));
  const int first = AwqFusedColumn(p, kW4UnitN * u);  // the word's first column in the fused destination
  uint32_t out = 0;
#pragma unroll
  for (int nib = 0; nib < 8; ++nib) {
    const int part = nib % 4;
    const int col = kW4UnitN * u + 8 * (part / 2) + lane / 4;
    const int k = s * kW4StepK + 2 * (lane % 4) + 8 * (part % 2) + nib / 4;
    out |= AwqNibble(p.qweight, k, col, p.n) << (4 * nib);
  }
  p.out_qweight[W4WordIndex(first + lane / 4, s * kW4StepK + 2 * (lane % 4), p.k)] = out;
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
  p.out_scale_zero[W4GroupIndex(AwqFusedColumn(p, col), g, groups)] = __halves2half2(scale, zero);
}

}  // namespace

absl::Status ValidateW4Shape(const char* what, int n, int k, int group) {
  if (n <= 0 || n % kW4BlockN != 0 || k <= 0 || k % kW4StageK != 0 || group <= 0 || group % kW4StageK != 0 ||
      k % group != 0)
    return absl::InvalidArgumentError(absl::StrCat(what, ": out_features=", n, " in_features=", k, " group_size=",
                                                   group, ": out_features must be a positive multiple of ",
                                                   kW4BlockN, ", in_features and group_size of ", kW4StageK,
                                                   ", and group_size must divide in_features"));
  return absl::OkStatus();
}

absl::Status ValidateAwqRepack(const AwqRepackParams& p) {
  if (!p.qweight || !p.qzeros || !p.scales || !p.out_qweight || !p.out_scale_zero)
    return absl::InvalidArgumentError("awq repack: null pointer");
  // A part's width need only be a multiple of a word's 16 columns; the fused whole is checked by the kernels.
  if (absl::Status s = ValidateW4Shape("awq repack", kW4BlockN, p.k, p.group); !s.ok()) return s;
  if (p.n <= 0 || p.n % kW4UnitN != 0 || p.col_offset < 0 || p.col_offset % kW4UnitN != 0)
    return absl::InvalidArgumentError(absl::StrCat("awq repack: out_features=", p.n, " and col_offset=",
                                                   p.col_offset, " must be multiples of ", kW4UnitN));
  if (p.col_run != 0 && (p.col_run < 0 || p.col_run % kW4UnitN != 0 || p.n % p.col_run != 0 ||
                         p.col_stride < p.col_run || p.col_stride % kW4UnitN != 0))
    return absl::InvalidArgumentError(absl::StrCat("awq repack: col_run=", p.col_run, " col_stride=", p.col_stride,
                                                   ": the run must be a multiple of ", kW4UnitN, " dividing "
                                                   "out_features=", p.n, ", the stride a multiple at least the run"));
  return absl::OkStatus();
}

void LaunchAwqRepack(const AwqRepackParams& p, cudaStream_t stream) {
  const int64_t words = static_cast<int64_t>(p.n / kW4UnitN) * (p.k / kW4StepK) * 32;
  RepackWeightKernel<<<static_cast<unsigned>((words + kThreads - 1) / kThreads), kThreads, 0, stream>>>(p);
  const int64_t groups = static_cast<int64_t>(p.k / p.group) * p.n;
  RepackScaleZeroKernel<<<static_cast<unsigned>((groups + kThreads - 1) / kThreads), kThreads, 0, stream>>>(p);
}

}  // namespace inference::cuda
