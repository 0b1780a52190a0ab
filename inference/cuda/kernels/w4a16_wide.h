// Internal to the W4A16 GEMM (w4a16.h): the kWide kind's kernels (w4a16_wide.cu), launched through
// LaunchW4A16GemmWith. Thread-safety: reentrant; never allocates.
//
//   if (!LaunchW4A16Wide(params, config, stream)) return absl::InvalidArgumentError("no such config");
#pragma once

#include <cuda_runtime.h>

#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {

// The kWide configs that exist: mw warpgroups along M (64 rows each; mt = 4 of them as m16 tiles), nw column
// blocks, sk = 1, `stages` stages.
const W4A16GemmConfig* W4A16WideConfigs(int* count);
// Launches `c` (kind kWide) for validated params; false when no kernel has that config.
bool LaunchW4A16Wide(const W4A16GemmParams& p, const W4A16GemmConfig& c, cudaStream_t stream);
// The same for the swapped kernels (w4a16_wide_swapped.cu: weights as wgmma's A, in registers): mt = rows per CTA
// / 16, nw = warpgroups, one column block each.
const W4A16GemmConfig* W4A16WideSwappedConfigs(int* count);
bool LaunchW4A16WideSwapped(const W4A16GemmParams& p, const W4A16GemmConfig& c, cudaStream_t stream);

}  // namespace inference::cuda
