// A stand-in for a kernel that writes what the next kernel reads only at its end, for tests of programmatic
// dependent launch (inference/cuda/kernels/pdl.cuh): it lets the next kernel launch at once, waits `delay_us`, then
// copies. A kernel launched after it with programmatic launch may run its pre-PdlWait part during the delay, so what it
// reads there is still the old data. The first launch of a kernel in a process (module loading) holds that back: warm
// both kernels up first, and check the window with LaunchStartProbe.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace inference::cuda::testing {

struct LateCopy {
  void* dst = nullptr;
  const void* src = nullptr;
  size_t bytes = 0;  // a multiple of 16; both addresses 16-byte aligned
};

// Two copies (either may be empty) after delay_us microseconds, on `stream` with programmatic launch. copy_start
// (optional, start it at ~0): the earliest %globaltimer at which a CTA began copying.
void LaunchLateCopies(const LateCopy& a, const LateCopy& b, int delay_us, unsigned long long* copy_start,
                      cudaStream_t stream);

// A kernel launched with programmatic launch that records in *started (start it at ~0) when its first CTA began.
void LaunchStartProbe(unsigned long long* started, cudaStream_t stream);

}  // namespace inference::cuda::testing
