// Internal to the W4A16 GEMM (w4a16.h): the table of the kWide kind's kernels (w4a16_wide.cu), which
// LaunchW4A16GemmWith searches with kNarrow's. Thread-safety: reentrant; never allocates.
//
//   int count = 0;
//   const W4A16ConfigEntry* wide = W4A16WideEntries(&count);
//   wide[0].launch(params, stream);
#pragma once

#include <cuda_runtime.h>

#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {

// One compiled kernel: its config and its launcher (for validated params of that kind).
struct W4A16ConfigEntry {
  W4A16GemmConfig config;
  void (*launch)(const W4A16GemmParams&, cudaStream_t);
};

// The kWide kernels: mw warpgroups along M (64 rows each: mt = 4 m16 tiles), nw column blocks, sk = 1, `stages`
// stages.
const W4A16ConfigEntry* W4A16WideEntries(int* count);

}  // namespace inference::cuda
