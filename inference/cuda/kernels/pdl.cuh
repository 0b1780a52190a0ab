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

// kernel<<<grid, block, smem, stream>>>(args...) with programmatic stream serialization allowed and, when
// cluster_y > 1, the CTAs in clusters of (1, cluster_y, 1) (the grid's y a multiple of it). On the legacy default
// stream (nullptr), or with ProgrammaticLaunch() off (pdl.h), without the programmatic attribute.
template <typename... Params, typename... Args>
void LaunchPdlClusters(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                       int cluster_y, Args&&... args) {
  cudaLaunchAttribute attr[2];
  int n = 0;
  if (cluster_y > 1) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = 1, attr[n].val.clusterDim.y = cluster_y, attr[n].val.clusterDim.z = 1;
    ++n;
  }
  if (stream != nullptr && ProgrammaticLaunch()) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cudaLaunchConfig_t config = {};
  config.gridDim = grid, config.blockDim = block, config.dynamicSmemBytes = smem, config.stream = stream;
  config.attrs = attr, config.numAttrs = n;
  (void)cudaLaunchKernelEx(&config, kernel, static_cast<Args&&>(args)...);  // errors surface as the caller's check
}

template <typename... Params, typename... Args>
void LaunchPdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
  LaunchPdlClusters(kernel, grid, block, smem, stream, 1, static_cast<Args&&>(args)...);
}

}  // namespace inference::cuda
