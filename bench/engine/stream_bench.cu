// The floor under one kernel per linear at batch 1: how long a kernel that only READS a linear's packed weights
// (Mistral-7B shapes, 4-bit + scales/zeros) takes on this GPU, with no arithmetic, when the engine's decode step runs
// one kernel per linear. Three ways, each on weights cold in L2 (ten copies rotated, more than the L2):
//   alone   one launch between events (launch latency included);
//   chain   ten launches in a CUDA graph, each starting after the one before has finished (the dependency a GEMM
//           has on the activations of the kernel before it): the per-linear floor of the engine's step;
//   overlap the same ten launches with programmatic dependent launch, each kernel reading its weights first and
//           waiting for the one before only at its end: what streaming across kernel boundaries would allow.
// Compare `chain` with bench/engine/kernel_bench's GEMM chains (the same ten-launch graphs) and with the 4.2 TB/s a
// long read reaches.
//
//   stream_bench
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "bench/engine/gpu_timing.h"
#include "inference/cuda/kernels/pdl.h"
#include "inference/cuda/kernels/w4a16.h"
#include "inference/cuda/kernels/w4a16_fragment.cuh"

namespace {

constexpr int kThreads = 256, kCtasPerSm = 4, kInFlight = 4, kChain = 10;

// Every 16 bytes of [src, src + n16) read once (kInFlight loads in flight per thread); the XOR keeps the loads.
// With `pdl`, the kernel lets the next one start at once and waits for the one before only after its reads.
__global__ void __launch_bounds__(kThreads) ReadKernel(const uint4* src, int64_t n16, unsigned* sink, int pdl) {
  if (pdl) asm volatile("griddepcontrol.launch_dependents;\n" ::);
  unsigned acc = 0;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t base = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; base < n16; base += stride * kInFlight) {
    uint4 v[kInFlight];
#pragma unroll
    for (int d = 0; d < kInFlight; ++d) {
      const int64_t i = base + d * stride;
      v[d] = i < n16 ? __ldg(src + i) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int d = 0; d < kInFlight; ++d) acc ^= v[d].x ^ v[d].y ^ v[d].z ^ v[d].w;
  }
  if (pdl) asm volatile("griddepcontrol.wait;\n" ::: "memory");
  if (acc == 0x9e3779b9u) sink[0] = acc;  // practically never; the compiler cannot drop the loads
}

void Launch(const void* src, size_t bytes, unsigned* sink, bool pdl, cudaStream_t stream, int ctas) {
  cudaLaunchAttribute attr;
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(ctas), config.blockDim = dim3(kThreads), config.stream = stream;
  config.attrs = &attr, config.numAttrs = pdl ? 1 : 0;
  cudaLaunchKernelEx(&config, ReadKernel, static_cast<const uint4*>(src), static_cast<int64_t>(bytes / 16), sink,
                     pdl ? 1 : 0);
}

// The same bytes read the way kNarrow reads them at one row (w4a16_gemm.cu), without its arithmetic: grid (split,
// 64-column block), four warps per CTA each taking a quarter of the split's whole 128-k groups, one 2 KB unit (64 k
// of the block) at a time with U units in flight per warp, through a bulk-copy ring (kTma) or registers. A unit is
// consumed (XORed) before its slot is refilled, as the GEMM does.
constexpr int kUnitBytes = 2048, kWarps = 4;
template <bool kTma, int U>
__global__ void __launch_bounds__(32 * kWarps) GemmShapedRead(const unsigned char* w, int k, int splits,
                                                             unsigned* sink) {
  __shared__ __align__(128) unsigned char ring[kTma ? kWarps * U * kUnitBytes : 16];
  __shared__ __align__(8) uint64_t bars[kWarps][U];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int groups = k / 128, per_split = (groups + splits - 1) / splits;
  const int cg0 = min(groups, int(blockIdx.x) * per_split), cg1 = min(groups, cg0 + per_split);
  const int per_warp = (cg1 - cg0 + kWarps - 1) / kWarps;
  const int g0 = min(cg1, cg0 + warp * per_warp), g1 = min(cg1, g0 + per_warp);
  const int nunits = 2 * (g1 - g0);
  const unsigned char* src = w + (int64_t(blockIdx.y) * (k / 64) + 2 * g0) * kUnitBytes;
  unsigned acc = 0;
  if constexpr (kTma) {
    using namespace inference::cuda;
    unsigned char* mine = ring + warp * U * kUnitBytes;
    uint64_t* bar = bars[warp];
    if (lane == 0) {
      for (int i = 0; i < U; ++i) MbarInit(&bar[i], 1);
      FenceMbarInit();
      for (int i = 0; i < U && i < nunits; ++i) {
        MbarArriveExpectTx(&bar[i], kUnitBytes);
        BulkCopyToShared(mine + i * kUnitBytes, src + int64_t(i) * kUnitBytes, kUnitBytes, &bar[i]);
      }
    }
    __syncwarp();
    for (int u = 0; u < nunits; ++u) {
      MbarWait(&bar[u % U], (u / U) & 1);
#pragma unroll
      for (int f = 0; f < 4; ++f) {
        const uint4 v = reinterpret_cast<const uint4*>(mine + (u % U) * kUnitBytes)[f * 32 + lane];
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
      }
      __syncwarp();
      if (lane == 0 && u + U < nunits) {
        MbarArriveExpectTx(&bar[u % U], kUnitBytes);
        BulkCopyToShared(mine + (u % U) * kUnitBytes, src + int64_t(u + U) * kUnitBytes, kUnitBytes, &bar[u % U]);
      }
    }
  } else {
    const uint4* s16 = reinterpret_cast<const uint4*>(src) + lane;
    uint4 r[U][4];
#pragma unroll
    for (int i = 0; i < U; ++i)
#pragma unroll
      for (int f = 0; f < 4; ++f) r[i][f] = i < nunits ? __ldcs(s16 + (i * 4 + f) * 32) : make_uint4(0, 0, 0, 0);
    for (int u = 0; u < nunits; u += U) {
#pragma unroll
      for (int i = 0; i < U; ++i) {
#pragma unroll
        for (int f = 0; f < 4; ++f) acc ^= r[i][f].x ^ r[i][f].y ^ r[i][f].z ^ r[i][f].w;
        if (u + i + U < nunits)
#pragma unroll
          for (int f = 0; f < 4; ++f) r[i][f] = __ldcs(s16 + ((u + i + U) * 4 + f) * 32);
      }
    }
  }
  if (acc == 0x9e3779b9u) sink[0] = acc;
}

template <bool kTma, int U>
void LaunchShaped(const void* w, int n, int k, int splits, unsigned* sink, cudaStream_t stream) {
  GemmShapedRead<kTma, U><<<dim3(splits, n / 64), 32 * kWarps, 0, stream>>>(static_cast<const unsigned char*>(w), k,
                                                                             splits, sink);
}

}  // namespace

int main() {
  constexpr int64_t kHidden = 4096, kInter = 14336, kQkv = 6144, kGroup = 128;
  struct Lin { const char* name; int64_t n, k; };
  const Lin lins[] = {{"qkv", kQkv, kHidden}, {"o_proj", kHidden, kHidden}, {"gate_up", 2 * kInter, kHidden},
                      {"down_proj", kHidden, kInter}};
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  const size_t max_bytes = 2 * kInter * kHidden / 2 + 2 * kInter * (kHidden / kGroup) * 4;
  const size_t l2 = static_cast<size_t>(prop.l2CacheSize);
  const int copies = static_cast<int>(std::max<size_t>(kChain, 4 * l2 / max_bytes + 1));
  void* buf = nullptr;
  unsigned* sink = nullptr;
  if (cudaMalloc(&buf, copies * max_bytes) != cudaSuccess || cudaMalloc(&sink, 4) != cudaSuccess) {
    std::fprintf(stderr, "stream_bench: allocation failed\n");
    return 1;
  }
  cudaMemset(buf, 0x5a, copies * max_bytes);
  const int ctas = sms * kCtasPerSm;
  std::printf("%s, %d SMs, L2 %zu MB; %d CTAs of %d threads, %d loads of 16 B in flight per thread\n", prop.name, sms,
              l2 >> 20, ctas, kThreads, kInFlight);
  std::printf("%-10s %8s %10s %10s %10s %10s %10s\n", "linear", "MB", "alone us", "chain us", "GB/s", "overlap us",
              "GB/s");
  double chain_sum = 0, overlap_sum = 0;
  for (const Lin& l : lins) {
    const size_t bytes = (l.n * l.k / 2 + l.n * (l.k / kGroup) * 4) / 16 * 16;
    auto at = [&](int r) { return static_cast<const char*>(buf) + (r % copies) * max_bytes; };
    int r = 0;
    const double alone = 1000.0 * bench::TimeMs([&] { Launch(at(r++), bytes, sink, false, nullptr, ctas); });
    double per[2];
    for (bool pdl : {false, true}) {
      per[pdl] = 1000.0 * bench::GraphMs([&](cudaStream_t s) {
        for (int i = 0; i < kChain; ++i) Launch(at(i), bytes, sink, pdl, s, ctas);
      }) / kChain;
    }
    chain_sum += per[0], overlap_sum += per[1];
    std::printf("%-10s %8.2f %10.2f %10.2f %10.0f %10.2f %10.0f\n", l.name, bytes / 1e6, alone, per[0],
                bytes / per[0] / 1e3, per[1], bytes / per[1] / 1e3);
  }
  std::printf("four linears of a layer: chain %.1f us, overlap %.1f us; x32 layers: %.3f / %.3f ms\n", chain_sum,
              overlap_sum, 32 * chain_sum / 1000, 32 * overlap_sum / 1000);
  // kNarrow's read pattern at one row, its grid and split (ten-launch chains as above, weights only), then the GEMM
  // itself at one row (LaunchW4A16Gemm, weights and scales cold), without and with programmatic launch, then every
  // kNarrow config of one-row tiles with programmatic launch, at one row and (slots of the tile's rows) at 8 rows.
  const size_t sz_bytes = 2 * kInter * (kHidden / kGroup) * 4;
  void *x = nullptr, *y = nullptr, *sz = nullptr;
  if (cudaMalloc(&x, 2 * kInter) != cudaSuccess || cudaMalloc(&y, 4 * kInter) != cudaSuccess ||
      cudaMalloc(&sz, kChain * sz_bytes) != cudaSuccess) {
    std::fprintf(stderr, "stream_bench: allocation failed\n");
    return 1;
  }
  cudaMemset(x, 0, 2 * kInter);
  cudaMemset(sz, 0, kChain * sz_bytes);
  std::printf("kNarrow's reads without its arithmetic, and the GEMM, one row, chain us each:\n"
              "%-10s %6s %8s %8s %8s %8s %8s %8s %8s\n", "linear", "splits", "tma U2", "tma U4", "tma U8", "regs U2",
              "regs U4", "gemm", "gemm+pdl");
  for (const Lin& l : lins) {
    const int splits = inference::cuda::W4A16GemmSplits(inference::cuda::W4A16GemmKind::kNarrow, l.n, l.k, sms);
    auto at = [&](int r) { return static_cast<const char*>(buf) + (r % copies) * max_bytes; };
    using Fn = void (*)(const void*, int, int, int, unsigned*, cudaStream_t);
    std::printf("%-10s %6d", l.name, splits);
    for (Fn fn : {Fn(LaunchShaped<true, 2>), Fn(LaunchShaped<true, 4>), Fn(LaunchShaped<true, 8>),
                  Fn(LaunchShaped<false, 2>), Fn(LaunchShaped<false, 4>)}) {
      const double us = 1000.0 * bench::GraphMs([&](cudaStream_t s) {
        for (int i = 0; i < kChain; ++i) fn(at(i), int(l.n), int(l.k), splits, sink, s);
      }) / kChain;
      std::printf(" %8.2f", us);
    }
    inference::cuda::W4A16GemmParams p;
    p.x = static_cast<const __half*>(x), p.ldx = l.k, p.y = static_cast<__half*>(y), p.ldy = l.n;
    p.m = 1, p.n = int(l.n), p.k = int(l.k), p.group = kGroup, p.splits = splits;
    // A chain of the GEMM in config c (nullptr: the dispatcher's default).
    auto chain_us = [&](const inference::cuda::W4A16GemmConfig* c) {
      return 1000.0 * bench::GraphMs([&](cudaStream_t s) {
        for (int i = 0; i < kChain; ++i) {
          inference::cuda::W4A16GemmParams q = p;
          q.qweight = reinterpret_cast<const uint32_t*>(at(i));
          q.scale_zero = reinterpret_cast<const __half2*>(static_cast<const char*>(sz) + i * sz_bytes);
          if (c) (void)inference::cuda::LaunchW4A16GemmWith(q, *c, s);
          else inference::cuda::LaunchW4A16Gemm(q, s);
        }
      }) / kChain;
    };
    for (bool pdl : {false, true}) {
      inference::cuda::SetProgrammaticLaunch(pdl);
      std::printf(" %8.2f", chain_us(nullptr));
    }
    inference::cuda::SetProgrammaticLaunch(true);
    // Every kNarrow config that takes one-row tiles, chained with programmatic launch: [kind mt stages x_rows].
    int count = 0;
    const inference::cuda::W4A16GemmConfig* configs = inference::cuda::W4A16GemmConfigs(&count);
    for (int i = 0; i < count; ++i) {
      const inference::cuda::W4A16GemmConfig& c = configs[i];
      if (c.kind != inference::cuda::W4A16GemmKind::kNarrow || c.mt != 1) continue;
      std::printf("  [%d %d r%d] %.2f", c.mt, c.stages, c.x_rows, chain_us(&c));
    }
    p.m = 8;
    std::printf("\n%-10s m=8 %8.2f", l.name, chain_us(nullptr));
    for (int i = 0; i < count; ++i) {
      const inference::cuda::W4A16GemmConfig& c = configs[i];
      if (c.kind != inference::cuda::W4A16GemmKind::kNarrow || c.mt != 1 || c.x_rows != 0) continue;
      std::printf("  [%d %d r%d] %.2f", c.mt, c.stages, c.x_rows, chain_us(&c));
    }
    std::printf("\n");
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) std::fprintf(stderr, "stream_bench: %s\n", cudaGetErrorString(err));
  return err == cudaSuccess ? 0 : 1;
}
