// Internals of paged decode attention (attention.h) shared by its two kernels: the CUDA-core kernel for small head
// dims (attention.cu) and the tensor-core kernel for head_dim 64 and 128 (attention_decode_mma.cu). Both compute a
// query's result the same way at the split level: split records (max, sum, unnormalized output per head) folded in
// split order with Merge, by the single worker in registers or by the last-arriving worker from the workspace.
// Device code and layout constants only; included by the .cu files of kernels/.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdint>

#include "inference/cuda/kernels/attention.h"

namespace inference::cuda::decode_attention {

inline constexpr int kThreads = kAttentionWarps * 32;
inline constexpr int kMaxGridZ = 65535;  // queries ride on gridDim.z
inline constexpr float kLog2e = 1.4426950408889634f;
// Records the last worker loads before folding them (N floats of output each): independent loads overlap their
// latency, so up to 16 records (1024 keys in 64-key splits) cost one round trip to L2; 16 x (4 + 2) registers.
template <int N>
constexpr int FoldBatch() { return N <= 4 ? 16 : 8; }

// A split record: out[head_dim], max, sum and 2 floats of padding (records stay 16-byte aligned).
__host__ __device__ constexpr int RecordFloats(int head_dim) { return head_dim + 4; }
// Per query: heads x kAttentionMaxSplits records, then one arrival counter per KV head (heads words, rounded to 4),
// so a query's counters sit at the same place whatever the launch's token count.
__host__ __device__ constexpr int64_t QueryFloats(int heads, int head_dim) {
  return int64_t{heads} * kAttentionMaxSplits * RecordFloats(head_dim) + (heads + 3) / 4 * 4;
}

// The group (query heads per KV head) a kernel is instantiated for: rounded up to a power of two, the extra heads
// compute on zero queries and are never written.
__host__ __device__ constexpr int GroupBucket(int group) { return group <= 1 ? 1 : group <= 2 ? 2 : group <= 4 ? 4 : 8; }

// Output elements of the G heads one thread merges (consecutive, within one head).
template <int HD, int G>
constexpr int OwnedElems() { return G * HD >= kThreads ? G * HD / kThreads : 1; }

__device__ __forceinline__ float Exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// A partial softmax over some keys, for N output elements of one head: max m, sum l, unnormalized output a.
template <int N>
struct Partial {
  float m, l, a[N];
};

template <int N>
__device__ __forceinline__ void Clear(Partial<N>& s) {
  s.m = -FLT_MAX, s.l = 0.f;
#pragma unroll
  for (int i = 0; i < N; ++i) s.a[i] = 0.f;
}

// Folds r into s. Explicitly rounded products and sums (no FMA contraction): every fold of the same records in the
// same order gives the same bits, wherever it is inlined. Folding into a cleared s copies r exactly.
template <int N>
__device__ __forceinline__ void Merge(Partial<N>& s, const Partial<N>& r) {
  const float m = fmaxf(s.m, r.m);
  const float alpha = Exp2(s.m - m), beta = Exp2(r.m - m);
  s.l = __fadd_rn(__fmul_rn(s.l, alpha), __fmul_rn(r.l, beta));
#pragma unroll
  for (int i = 0; i < N; ++i) s.a[i] = __fadd_rn(__fmul_rn(s.a[i], alpha), __fmul_rn(r.a[i], beta));
  s.m = m;
}

// Record of (query index qi, head h, split s) and the arrival counter of (qi, KV head kvh).
template <int HD>
__device__ __forceinline__ float* Record(const PagedAttentionParams& p, int qi, int h, int s) {
  return p.workspace + qi * QueryFloats(p.heads, HD) + (int64_t{h} * kAttentionMaxSplits + s) * RecordFloats(HD);
}
template <int HD>
__device__ __forceinline__ unsigned int* Counter(const PagedAttentionParams& p, int qi, int kvh) {
  return reinterpret_cast<unsigned int*>(Record<HD>(p, qi, p.heads, 0)) + kvh;
}

// Stores a worker's record of split s: thread-owned elements od.. of head h (the thread at od == 0 adds max, sum).
template <int HD, int N>
__device__ __forceinline__ void StoreRecord(const PagedAttentionParams& p, int qi, int h, int s, int od,
                                            const Partial<N>& rec) {
  float* r = Record<HD>(p, qi, h, s);
#pragma unroll
  for (int i = 0; i < N; ++i) r[od + i] = rec.a[i];
  if (od == 0) r[HD] = rec.m, r[HD + 1] = rec.l;
}

// counter += v at GPU scope with release and acquire semantics; returns the value before.
__device__ __forceinline__ unsigned int AtomicAddAcqRelGpu(unsigned int* counter, unsigned int v) {
  unsigned int before;
  asm volatile("atom.add.acq_rel.gpu.global.u32 %0, [%1], %2;\n" : "=r"(before) : "l"(counter), "r"(v) : "memory");
  return before;
}

// Every worker calls this after storing its records (all threads of the CTA). True in the last worker to arrive,
// which then folds the records (FoldRecords); the counter is left zero for the next launch. The first barrier orders
// the CTA's record stores before thread 0's arrival, which releases them (release is cumulative) and, in the last
// worker, acquires the other workers' records; the second barrier orders the CTA's reads after that. (Two
// __threadfence and a relaxed atomic did the same: engine steps at batch 1 1.930 / 1.944 ms before, 1.922 / 1.919
// after, bench/RESULTS.md.)
template <int HD>
__device__ __forceinline__ bool ArriveLast(const PagedAttentionParams& p, int qi, int kvh, int workers) {
  __shared__ bool last_worker;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned int* counter = Counter<HD>(p, qi, kvh);
    last_worker = AtomicAddAcqRelGpu(counter, 1u) == static_cast<unsigned int>(workers - 1);
    if (last_worker) *counter = 0u;  // every worker has arrived: ready for the next launch
  }
  __syncthreads();
  return last_worker;
}

// The last worker: folds the `count` records of head h (its elements od..) into run, in split order.
template <int HD, int N>
__device__ __forceinline__ void FoldRecords(const PagedAttentionParams& p, int qi, int h, int od, int count,
                                            Partial<N>& run) {
  const float* recs = Record<HD>(p, qi, h, 0);
  constexpr int kFoldBatch = FoldBatch<N>();
  for (int s0 = 0; s0 < count; s0 += kFoldBatch) {
    Partial<N> r[kFoldBatch];
#pragma unroll
    for (int b = 0; b < kFoldBatch; ++b) {
      Clear(r[b]);
      if (s0 + b >= count) continue;
      const float* x = recs + (s0 + b) * RecordFloats(HD);
      r[b].m = __ldcg(x + HD), r[b].l = __ldcg(x + HD + 1);
#pragma unroll
      for (int i = 0; i < N; ++i) r[b].a[i] = __ldcg(x + od + i);
    }
#pragma unroll
    for (int b = 0; b < kFoldBatch; ++b)
      if (s0 + b < count) Merge(run, r[b]);
  }
}

// out = a / l for the thread's N elements of head h of row t.
template <int HD, int N>
__device__ __forceinline__ void StoreOutput(const PagedAttentionParams& p, int t, int h, int od, const Partial<N>& run) {
  __half* out = p.out + static_cast<int64_t>(t) * p.heads * HD + h * HD + od;
#pragma unroll
  for (int i = 0; i < N; ++i) out[i] = __float2half_rn(__fdiv_rn(run.a[i], run.l));
}

// A worker's last step for its query and KV head (all threads of the CTA, after storing or merging its records):
// with one worker, its running record is the result; with several, the last to arrive folds every record in split
// order. The thread's N elements od.. of query head og of the KV head's group are stored where it owns them.
template <int HD, int N>
__device__ __forceinline__ void FinishQuery(const PagedAttentionParams& p, int t, int qi, int kvh, int group,
                                            int workers, int count, bool owner, int og, int od, Partial<N>& run) {
  if (workers > 1) {
    if (!ArriveLast<HD>(p, qi, kvh, workers)) return;
    if (owner && og < group) FoldRecords<HD>(p, qi, kvh * group + og, od, count, run);
  }
  if (owner && og < group) StoreOutput<HD>(p, t, kvh * group + og, od, run);
}

// The tensor-core kernel's launch for head_dim 64 and 128 (attention_decode_mma.cu); false for other shapes.
bool LaunchDecodeAttentionMma(const PagedAttentionParams& p, cudaStream_t stream);
bool DecodeAttentionMmaSupports(int head_dim);

}  // namespace inference::cuda::decode_attention
