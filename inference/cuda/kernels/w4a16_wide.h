// Internal to the W4A16 GEMM (w4a16.h): the kernel tables of kind kWide, one per .cu, in which LaunchW4A16GemmWith
// finds a config (w4a16_gemm.cu holds kNarrow's and the lookup). Thread-safety: reentrant; never allocates.
//
//   for (const W4A16GemmEntry* e = W4A16WideEntries(&n); n-- > 0; ++e) ...
#pragma once

#include <cuda_runtime.h>

#include "inference/cuda/kernels/w4a16.h"

namespace inference::cuda {

// A config and the launcher of its kernel, for validated params.
struct W4A16GemmEntry {
  W4A16GemmConfig config;
  void (*launch)(const W4A16GemmParams&, cudaStream_t);
};

// w4a16_wide.cu: mw warpgroups along M (64 rows each; mt = 4 of them as m16 tiles), nw column blocks, sk = 1,
// `stages` stages; the activations are wgmma's A, each stage's weights dequantized into shared memory.
const W4A16GemmEntry* W4A16WideEntries(int* count);
// w4a16_wide_swapped.cu (swapped = true): mt = rows per CTA / 16, nw warpgroups of one column block each; the weights
// are wgmma's A, dequantized in registers.
const W4A16GemmEntry* W4A16WideSwappedEntries(int* count);

}  // namespace inference::cuda
