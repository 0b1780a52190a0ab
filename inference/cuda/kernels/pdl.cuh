// Programmatic dependent launch (Hopper): a kernel launched with LaunchPdl may start while the kernel before it in
// the stream is still running. It must call PdlWait() before it reads anything an earlier kernel wrote and before it
// writes anything an earlier kernel reads; what it does before (loading weights, which nothing writes) overlaps the
// earlier kernel's tail. A kernel that calls PdlLaunchDependents() lets the next kernel start that early; both are
// no-ops for kernels launched the ordinary way. Works under stream capture (the graph keeps the programmatic edge).
#pragma once

#include <cuda_runtime.h>

#include "inference/cuda/kernels/pdl.h"

namespace inference::cuda {

__device__ __forceinline__ void PdlWait() { asm volatile("griddepcontrol.wait;\n" ::: "memory"); }
__device__ __forceinline__ void PdlLaunchDependents() { asm volatile("griddepcontrol.launch_dependents;\n" ::); }

// kernel<<<grid, block, smem, stream>>>(args...) with programmatic stream serialization allowed. On the legacy
// default stream (nullptr), or with ProgrammaticLaunch() off (pdl.h), it launches the ordinary way.
template <typename... Params, typename... Args>
void LaunchPdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
  if (stream == nullptr || !ProgrammaticLaunch()) {
    kernel<<<grid, block, smem, stream>>>(static_cast<Args&&>(args)...);
    return;
  }
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid, config.blockDim = block, config.dynamicSmemBytes = smem, config.stream = stream;
  config.attrs = attr, config.numAttrs = 1;
  (void)cudaLaunchKernelEx(&config, kernel, static_cast<Args&&>(args)...);  // errors surface as the caller's check
}

}  // namespace inference::cuda
