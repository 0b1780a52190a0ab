// Internal to the W4A16 GEMM (w4a16.h): the kernel tables, one per .cu, in which LaunchW4A16GemmWith finds a config
// (w4a16_dispatch.cu holds the lookup, the K splits and the default configs), and the kNarrow constants the dispatch
// shares with its kernels. Thread-safety: reentrant; never allocates.
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
  void (*launch_norm)(const W4A16GemmParams&, const W4A16NormInput&, cudaStream_t) = nullptr;  // m = 1, or null
};

// w4a16_gemm.cu (kNarrow): mt = MX n8 tiles of rows per CTA, mw = nw = sk = 1; `stages` is kW4NarrowWBuf for the
// kernel that streams weights into registers, the ring's depth for the bulk-copy kernel (x_rows activation rows per
// slot; 0: the tile's).
const W4A16GemmEntry* W4A16NarrowEntries(int* count);
inline constexpr int kW4NarrowKWarps = 4;  // warps per CTA, each a quarter of the CTA's K range
inline constexpr int kW4NarrowWBuf = 2;    // weight units (64 k) per warp in registers: loaded kW4NarrowWBuf - 1 ahead
// The bulk-copy ring's depth: kW4NarrowTmaUnits for launches of at most two CTAs per SM (o_proj, down_proj),
// kW4NarrowTmaUnitsShort for more (q/k/v, gate/up), whose smaller shared memory leaves room on the SM for the next
// kernel's CTAs to start while it drains (bench/RESULTS.md, eighth round). Much deeper rings were slower (2.50 / 2.56
// / 2.63 / 3.25 ms per step at batch 1 for 4 / 6 / 8 / 12 units, sixth round); the ring at 16 and 32 rows is slower
// than registers.
inline constexpr int kW4NarrowTmaUnits = 4, kW4NarrowTmaUnitsShort = 3;

// w4a16_wide.cu: mw warpgroups along M (64 rows each; mt = 4 of them as m16 tiles), nw column blocks, sk = 1,
// `stages` stages; the activations are wgmma's A, each stage's weights dequantized into shared memory.
const W4A16GemmEntry* W4A16WideEntries(int* count);
// w4a16_wide_swapped.cu (swapped = true): mt = rows per CTA / 16, nw warpgroups of one column block each; the weights
// are wgmma's A, dequantized in registers.
const W4A16GemmEntry* W4A16WideSwappedEntries(int* count);

}  // namespace inference::cuda
