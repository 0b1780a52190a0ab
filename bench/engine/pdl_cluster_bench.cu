// Does programmatic dependent launch start a kernel early behind a kernel launched in clusters? The decode step's
// kNarrow GEMMs with a K split run in clusters (w4a16_gemm.cu) and let the next kernel launch right after their
// PdlWait; if clusters hold that launch back, the kernels after q/k/v, o_proj and down_proj cannot overlap their tails.
//
// Kernel A: `ctas` CTAs in clusters of `cluster` along x (1: no cluster attribute); each lets its dependents launch
// at once (griddepcontrol.launch_dependents), optionally arrives and waits on the cluster barrier as the GEMM's
// SplitInbox does, then spins for kSpinUs of %globaltimer. Kernel B, launched with programmatic stream serialization,
// records when its first CTA started, then waits (griddepcontrol.wait). Printed per shape: how long before A's last
// CTA finished B started (negative: only after), the median of kReps launches.
//
//   pdl_cluster_bench
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace {

constexpr int kThreads = 128, kReps = 21;
constexpr uint64_t kSpinUs = 50;

__device__ __forceinline__ uint64_t GlobalTimer() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(t));
  return t;
}

__global__ void SpinKernel(int cluster_sync, unsigned long long* a_end) {
  asm volatile("griddepcontrol.launch_dependents;\n" ::);
  if (cluster_sync) {
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
    asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
  }
  const uint64_t t0 = GlobalTimer();
  while (GlobalTimer() - t0 < kSpinUs * 1000) {
  }
  if (threadIdx.x == 0) atomicMax(a_end, static_cast<unsigned long long>(GlobalTimer()));
}

__global__ void ProbeKernel(unsigned long long* b_start) {
  if (threadIdx.x == 0) atomicMin(b_start, static_cast<unsigned long long>(GlobalTimer()));
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
}

// Microseconds from B's first start to A's last end for one launch pair on `stream` (positive: B started early).
double LeadUs(int ctas, int cluster, bool cluster_sync, unsigned long long* times, cudaStream_t stream) {
  const unsigned long long init[2] = {~0ull, 0ull};  // B's start (min), A's end (max)
  cudaMemcpyAsync(times, init, sizeof(init), cudaMemcpyHostToDevice, stream);
  cudaLaunchAttribute a_attr;
  a_attr.id = cudaLaunchAttributeClusterDimension;
  a_attr.val.clusterDim.x = cluster, a_attr.val.clusterDim.y = 1, a_attr.val.clusterDim.z = 1;
  cudaLaunchConfig_t a = {};
  a.gridDim = dim3(ctas), a.blockDim = dim3(kThreads), a.stream = stream;
  a.attrs = &a_attr, a.numAttrs = cluster > 1 ? 1 : 0;
  cudaLaunchKernelEx(&a, SpinKernel, cluster_sync ? 1 : 0, times + 1);
  cudaLaunchAttribute b_attr;
  b_attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  b_attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t b = {};
  b.gridDim = dim3(8), b.blockDim = dim3(kThreads), b.stream = stream;
  b.attrs = &b_attr, b.numAttrs = 1;
  cudaLaunchKernelEx(&b, ProbeKernel, times);
  unsigned long long got[2];
  cudaMemcpyAsync(got, times, sizeof(got), cudaMemcpyDeviceToHost, stream);
  cudaStreamSynchronize(stream);
  return (static_cast<double>(got[1]) - static_cast<double>(got[0])) / 1000.0;
}

}  // namespace

int main() {
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  unsigned long long* times = nullptr;
  cudaStream_t stream;
  if (cudaMalloc(&times, 2 * sizeof(unsigned long long)) != cudaSuccess ||
      cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    std::fprintf(stderr, "pdl_cluster_bench: setup failed\n");
    return 1;
  }
  std::printf("%s: kernel A spins %llu us; how long before A ended the programmatically launched B started (us, "
              "median of %d)\n%6s %8s %14s %10s\n",
              prop.name, static_cast<unsigned long long>(kSpinUs), kReps, "ctas", "cluster", "cluster barrier",
              "B's lead");
  for (int ctas : {8, 256}) {
    for (int cluster : {1, 2, 4, 8}) {
      for (bool sync : {false, true}) {
        if (cluster == 1 && sync) continue;
        std::vector<double> lead;
        for (int r = 0; r < kReps; ++r) lead.push_back(LeadUs(ctas, cluster, sync, times, stream));
        std::sort(lead.begin(), lead.end());
        std::printf("%6d %8d %14s %10.1f\n", ctas, cluster, sync ? "yes" : "no", lead[lead.size() / 2]);
      }
    }
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) std::fprintf(stderr, "pdl_cluster_bench: %s\n", cudaGetErrorString(err));
  return err == cudaSuccess ? 0 : 1;
}
