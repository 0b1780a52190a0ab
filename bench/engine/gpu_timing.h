// Timing GPU work from the host, for the benches: CUDA events around the work, median of `reps` runs after three
// warm-up runs. Host code; needs only the CUDA runtime (used from .cc and .cu files alike).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

namespace bench {

// Milliseconds of what `fn` enqueues on `stream` (default: the legacy default stream).
inline double TimeMs(const std::function<void()>& fn, int reps = 20, cudaStream_t stream = nullptr) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < 3; ++i) fn();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(a, stream);
    fn();
    cudaEventRecord(b, stream);
    cudaEventSynchronize(b);
    float ms;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Milliseconds of one replay of a CUDA graph of whatever `launch` enqueues on the stream it is given (the engine's
// decode steps are graphs); 0 if the capture fails.
inline double GraphMs(const std::function<void(cudaStream_t)>& launch, int reps = 20) {
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
  launch(s);
  if (cudaStreamEndCapture(s, &graph) != cudaSuccess || cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess) {
    std::printf("graph capture failed: %s\n", cudaGetErrorString(cudaGetLastError()));
    cudaStreamDestroy(s);
    return 0;
  }
  const double ms = TimeMs([&] { cudaGraphLaunch(exec, s); }, reps, s);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
  return ms;
}

}  // namespace bench
