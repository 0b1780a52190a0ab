// LateCopy (late_copy.h).
#include "tests/gpu/late_copy.h"

#include <cstdint>

#include "inference/cuda/kernels/pdl.cuh"

namespace inference::cuda::testing {
namespace {

__device__ __forceinline__ unsigned long long GlobalTimerNs() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(t));
  return t;
}

__global__ void LateCopyKernel(LateCopy a, LateCopy b, unsigned long long delay_ns, unsigned long long* copy_start) {
  PdlLaunchDependents();  // the next kernel may start now
  const unsigned long long start = GlobalTimerNs();
  while (GlobalTimerNs() - start < delay_ns) {
  }
  if (copy_start && threadIdx.x == 0) atomicMin(copy_start, GlobalTimerNs());
  for (const LateCopy& c : {a, b}) {
    const size_t n = c.bytes / 16;
    for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
      static_cast<uint4*>(c.dst)[i] = static_cast<const uint4*>(c.src)[i];
  }
}

__global__ void StartProbeKernel(unsigned long long* started) {
  if (threadIdx.x == 0) atomicMin(started, GlobalTimerNs());
  PdlWait();
}

}  // namespace

void LaunchLateCopies(const LateCopy& a, const LateCopy& b, int delay_us, unsigned long long* copy_start,
                      cudaStream_t stream) {
  LaunchPdl(LateCopyKernel, dim3(32), dim3(256), 0, stream, a, b, static_cast<unsigned long long>(delay_us) * 1000,
            copy_start);
}

void LaunchStartProbe(unsigned long long* started, cudaStream_t stream) {
  LaunchPdl(StartProbeKernel, dim3(1), dim3(32), 0, stream, started);
}

}  // namespace inference::cuda::testing
