// What a dependency between two kernels of a decode step costs, by the way it is expressed. A chain of kChain tiny
// kernels in one CUDA graph, each of `ctas` CTAs reading what every CTA of the kernel before wrote and writing its own
// value (Link), four ways:
//   plain       ordinary stream order;
//   pdl         programmatic dependent launch (the engine's way, pdl.cuh): griddepcontrol.wait before the reads,
//               launch_dependents right after it;
//   flag        programmatic launch without the wait: each CTA spins on the previous kernel's arrival counter, which
//               every CTA of a kernel increments with release semantics after its write (counters zeroed by a memset
//               node at the graph's start);
//   persistent  one kernel of `ctas` CTAs (all resident: 128 threads, 4 bytes of shared memory) crossing kChain - 1 grid
//               barriers built from the same counters.
// Printed: µs per link, the median of kReps graph launches. bench/RESULTS.md (fourteenth round) has an H200's numbers.
//
//   boundary_bench
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr int kThreads = 128, kChain = 96, kReps = 15;

__device__ __forceinline__ unsigned LoadAcquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ void ArriveRelease(unsigned* p) {
  asm volatile("red.release.gpu.global.add.u32 [%0], 1;\n" ::"l"(p), "r"(1u) : "memory");
}
__device__ __forceinline__ void WaitCount(const unsigned* counter, unsigned target) {
  if (threadIdx.x == 0)
    while (LoadAcquire(counter) < target) {
    }
  __syncthreads();
}

// Every CTA sums what the previous link's CTAs wrote (thread t reads CTAs t, t + 128, ...) and writes sum + 1.
__device__ __forceinline__ void Link(const int* prev, int* mine, int ctas) {
  __shared__ int total;
  if (threadIdx.x == 0) total = 0;
  __syncthreads();
  int s = 0;
  for (int c = threadIdx.x; c < ctas; c += kThreads) s += prev[c];
  atomicAdd(&total, s);
  __syncthreads();
  if (threadIdx.x == 0) mine[blockIdx.x] = total % 1000 + 1;
}

__global__ void PlainKernel(const int* prev, int* mine, int ctas) { Link(prev, mine, ctas); }

__global__ void PdlKernel(const int* prev, int* mine, int ctas) {
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;\n" ::);
  Link(prev, mine, ctas);
}

__global__ void FlagKernel(const int* prev, int* mine, int ctas, const unsigned* prev_count, unsigned* my_count) {
  asm volatile("griddepcontrol.launch_dependents;\n" ::);
  if (prev_count) WaitCount(prev_count, ctas);
  Link(prev, mine, ctas);
  __syncthreads();
  if (threadIdx.x == 0) ArriveRelease(my_count);
}

__global__ void PersistentKernel(int* buf, int ctas, unsigned* counts) {
  for (int i = 1; i < kChain; ++i) {
    Link(buf + (i - 1) * ctas, buf + i * ctas, ctas);
    __syncthreads();
    if (threadIdx.x == 0) ArriveRelease(counts + i);
    WaitCount(counts + i, ctas);
  }
}

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

template <typename... Params, typename... Args>
void Launch(void (*kernel)(Params...), int ctas, bool pdl, cudaStream_t s, Args... args) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t c = {};
  c.gridDim = dim3(ctas), c.blockDim = dim3(kThreads), c.stream = s, c.attrs = &attr, c.numAttrs = pdl ? 1 : 0;
  Check(cudaLaunchKernelEx(&c, kernel, args...), "launch");
}

double TimeGraph(cudaStream_t s, int ctas, int mode, int* buf, unsigned* counts) {
  cudaGraph_t graph;
  Check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "capture");
  Check(cudaMemsetAsync(counts, 0, kChain * sizeof(unsigned), s), "memset");
  if (mode == 3) {
    Launch(PersistentKernel, ctas, false, s, buf, ctas, counts);
  } else {
    for (int i = 1; i < kChain; ++i) {
      const int* prev = buf + (i - 1) * ctas;
      int* mine = buf + i * ctas;
      if (mode == 0) Launch(PlainKernel, ctas, false, s, prev, mine, ctas);
      if (mode == 1) Launch(PdlKernel, ctas, true, s, prev, mine, ctas);
      if (mode == 2)
        Launch(FlagKernel, ctas, i > 1, s, prev, mine, ctas, i > 1 ? static_cast<const unsigned*>(counts + i - 1)
                                                                  : static_cast<const unsigned*>(nullptr),
               counts + i);
    }
  }
  Check(cudaStreamEndCapture(s, &graph), "end capture");
  cudaGraphExec_t exec;
  Check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  cudaEvent_t a, b;
  cudaEventCreate(&a), cudaEventCreate(&b);
  std::vector<float> ms;
  for (int r = 0; r < kReps; ++r) {
    cudaEventRecord(a, s);
    Check(cudaGraphLaunch(exec, s), "graph launch");
    cudaEventRecord(b, s);
    Check(cudaEventSynchronize(b), "sync");
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  return ms[kReps / 2] * 1000.0 / (kChain - 1);
}

}  // namespace

int main() {
  cudaStream_t s;
  Check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream");
  int* buf;
  unsigned* counts;
  Check(cudaMalloc(&buf, kChain * 1024 * sizeof(int)), "malloc");
  Check(cudaMalloc(&counts, kChain * sizeof(unsigned)), "malloc");
  Check(cudaMemset(buf, 0, kChain * 1024 * sizeof(int)), "memset");
  std::printf("ctas  plain_us  pdl_us  flag_us  persistent_us (per link, %d links)\n", kChain - 1);
  for (int ctas : {64, 132, 264, 448}) {
    double t[4];
    for (int mode = 0; mode < 4; ++mode) t[mode] = TimeGraph(s, ctas, mode, buf, counts);
    std::printf("%4d  %8.3f  %6.3f  %7.3f  %13.3f\n", ctas, t[0], t[1], t[2], t[3]);
  }
  return 0;
}
