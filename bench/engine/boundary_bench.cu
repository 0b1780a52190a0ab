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
// Printed: µs per link, the median of kReps graph launches; exits 1 if a chain's last values are not what every link
// reading its predecessor's gives. bench/RESULTS.md (fourteenth round) has an H200's numbers.
//
//   boundary_bench
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

constexpr int kThreads = 128, kChain = 96, kReps = 15, kMaxCtas = 448;

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

enum class Mode { kPlain, kPdl, kFlag, kPersistent };

// Every value of the chain's last link, checked against the recurrence v_i = (ctas v_(i-1)) % 1000 + 1, v_0 = 0: a
// link that read its predecessor's values too early would break it.
bool ChainHolds(const int* buf, int ctas) {
  int v = 0;
  for (int i = 1; i < kChain; ++i) v = static_cast<int>((static_cast<int64_t>(ctas) * v) % 1000) + 1;
  std::vector<int> last(ctas);
  Check(cudaMemcpy(last.data(), buf + (kChain - 1) * ctas, ctas * sizeof(int), cudaMemcpyDeviceToHost), "copy");
  return std::all_of(last.begin(), last.end(), [&](int x) { return x == v; });
}

double TimeGraph(cudaStream_t s, int ctas, Mode mode, int* buf, unsigned* counts) {
  Check(cudaMemset(buf, 0, kChain * kMaxCtas * sizeof(int)), "memset");  // link 0: zeros (no link writes it)
  cudaGraph_t graph;
  Check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "capture");
  Check(cudaMemsetAsync(counts, 0, kChain * sizeof(unsigned), s), "memset");
  if (mode == Mode::kPersistent) {
    Launch(PersistentKernel, ctas, false, s, buf, ctas, counts);
  } else {
    for (int i = 1; i < kChain; ++i) {
      const int* prev = buf + (i - 1) * ctas;
      int* mine = buf + i * ctas;
      if (mode == Mode::kPlain) Launch(PlainKernel, ctas, false, s, prev, mine, ctas);
      if (mode == Mode::kPdl) Launch(PdlKernel, ctas, true, s, prev, mine, ctas);
      if (mode == Mode::kFlag) {
        const unsigned* wait_on = i > 1 ? counts + i - 1 : nullptr;  // the first link has nothing to wait for
        Launch(FlagKernel, ctas, i > 1, s, prev, mine, ctas, wait_on, counts + i);
      }
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
  cudaEventDestroy(a), cudaEventDestroy(b);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  if (!ChainHolds(buf, ctas)) {
    std::fprintf(stderr, "mode %d, %d CTAs: a link read stale values\n", static_cast<int>(mode), ctas);
    std::exit(1);
  }
  return ms[kReps / 2] * 1000.0 / (kChain - 1);
}

}  // namespace

int main() {
  cudaStream_t s;
  Check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "stream");
  int* buf;
  unsigned* counts;
  Check(cudaMalloc(&buf, kChain * kMaxCtas * sizeof(int)), "malloc");
  Check(cudaMalloc(&counts, kChain * sizeof(unsigned)), "malloc");
  std::printf("ctas  plain_us  pdl_us  flag_us  persistent_us (per link, %d links)\n", kChain - 1);
  for (int ctas : {64, 132, 264, kMaxCtas}) {
    double t[4];
    for (int mode = 0; mode < 4; ++mode) t[mode] = TimeGraph(s, ctas, static_cast<Mode>(mode), buf, counts);
    std::printf("%4d  %8.3f  %6.3f  %7.3f  %13.3f\n", ctas, t[0], t[1], t[2], t[3]);
  }
  return 0;
}
