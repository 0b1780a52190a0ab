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
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) std::fprintf(stderr, "stream_bench: %s\n", cudaGetErrorString(err));
  return err == cudaSuccess ? 0 : 1;
}
