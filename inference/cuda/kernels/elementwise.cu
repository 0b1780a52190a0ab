// Embedding, fused add + RMSNorm, RoPE + KV write, SiLU * up (elementwise.h).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/elementwise.h"
#include "inference/cuda/kernels/pdl.cuh"
#include "inference/cuda/kernels/rms_norm.cuh"
#include "inference/cuda/kernels/silu.cuh"

namespace inference::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__global__ void EmbeddingKernel(EmbeddingParams p) {
  const int t = blockIdx.x;
  const __half* row = p.table + static_cast<int64_t>(p.ids[t]) * p.hidden;
  float* out = p.out + static_cast<int64_t>(t) * p.hidden;
  for (int i = threadIdx.x; i < p.hidden; i += blockDim.x) out[i] = __half2float(row[i]);
}

// One CTA of kRmsLanes threads per token, in rms_norm.cuh's order. Every load is issued before the first use (a
// decode step's row is latency-bound: one round trip, not one per element), the norm weight before PdlWait (nothing in
// the step writes it).
constexpr int kNormMaxUnits = 4;  // per thread, in registers: hidden up to 8 * 256 * 4 = 8192
static_assert(kThreads == kRmsLanes, "a thread per lane of the norm's sum");

template <int UNITS>
__global__ void __launch_bounds__(kThreads) AddRmsNormKernel(AddRmsNormParams p) {
  PdlLaunchDependents();  // the GEMM after it may start loading its weights (pdl.cuh)
  __shared__ float partial[kWarps];
  const int units = p.hidden / kRmsUnit;
  uint4 w[UNITS], d[UNITS];
  float4 a[UNITS][2];
#pragma unroll
  for (int u = 0; u < UNITS; ++u) {
    const int idx = u * kThreads + threadIdx.x;
    if (idx < units) w[u] = reinterpret_cast<const uint4*>(p.weight)[idx];
  }
  PdlWait();
  const int t = blockIdx.x;
  const int r = p.rows ? p.rows[t] : t;
  const float4* res = reinterpret_cast<const float4*>(p.residual + static_cast<int64_t>(r) * p.hidden);
  float4* res_out = reinterpret_cast<float4*>((p.residual_out ? p.residual_out : p.residual) +
                                              static_cast<int64_t>(r) * p.hidden);
  const uint4* delta = p.delta ? reinterpret_cast<const uint4*>(p.delta + static_cast<int64_t>(r) * p.hidden) : nullptr;
#pragma unroll
  for (int u = 0; u < UNITS; ++u) {
    const int idx = u * kThreads + threadIdx.x;
    if (idx < units) {
      a[u][0] = res[2 * idx], a[u][1] = res[2 * idx + 1];
      if (delta) d[u] = delta[idx];
    }
  }
  float v[UNITS][kRmsUnit];
  float sq = 0.f;
#pragma unroll
  for (int u = 0; u < UNITS; ++u) {
    const int idx = u * kThreads + threadIdx.x;
    if (idx >= units) continue;
    RmsUnitOf(a[u][0], a[u][1], v[u]);
    if (delta) {
      RmsAddDelta(v[u], d[u]);
      res_out[2 * idx] = make_float4(v[u][0], v[u][1], v[u][2], v[u][3]);
      res_out[2 * idx + 1] = make_float4(v[u][4], v[u][5], v[u][6], v[u][7]);
    }
    sq = RmsSquares(v[u], sq);
  }
  const float inv = RmsBlockInverse(sq, partial, p.hidden, p.eps);
  uint4* out = reinterpret_cast<uint4*>(p.out + static_cast<int64_t>(t) * p.hidden);
#pragma unroll
  for (int u = 0; u < UNITS; ++u) {
    const int idx = u * kThreads + threadIdx.x;
    if (idx < units) out[idx] = RmsScale(v[u], inv, w[u]);
  }
}

// Any hidden size, one element at a time (its own order of the sum of squares).
__global__ void __launch_bounds__(kThreads) AddRmsNormAnyKernel(AddRmsNormParams p) {
  PdlLaunchDependents();
  PdlWait();
  __shared__ float partial[kWarps];
  const int t = blockIdx.x;
  const int r = p.rows ? p.rows[t] : t;
  const float* res = p.residual + static_cast<int64_t>(r) * p.hidden;
  float* res_out = (p.residual_out ? p.residual_out : p.residual) + static_cast<int64_t>(r) * p.hidden;
  const __half* delta = p.delta ? p.delta + static_cast<int64_t>(r) * p.hidden : nullptr;
  float sq = 0.f;
  for (int i = threadIdx.x; i < p.hidden; i += kThreads) {
    float v = res[i];
    if (delta) {
      v = __fadd_rn(v, __half2float(delta[i]));
      res_out[i] = v;
    }
    sq = __fmaf_rn(v, v, sq);
  }
  const float inv = RmsBlockInverse(sq, partial, p.hidden, p.eps);
  const float* normed = delta ? res_out : res;
  __half* out = p.out + static_cast<int64_t>(t) * p.hidden;
  for (int i = threadIdx.x; i < p.hidden; i += kThreads)
    out[i] = __float2half_rn(__fmul_rn(__fmul_rn(normed[i], inv), __half2float(p.weight[i])));
}

// One CTA per token and blockDim.y heads of q or k, thread (i, h) rotating the pair (i, i + head_dim / 2) of its
// head; a k head's thread also writes that head's k and v to the paged cache. All loads are issued before the first
// use.
__global__ void RopeKvKernel(RopeKvParams p) {
  PdlLaunchDependents();
  const int t = blockIdx.x, head = blockIdx.y * blockDim.y + threadIdx.y, i = threadIdx.x;
  const int half_dim = p.head_dim / 2;
  const float inv_freq = p.inv_freq[i];  // nothing in the step writes it: before PdlWait
  PdlWait();
  if (head >= p.heads + p.kv_heads) return;
  const int64_t row = static_cast<int64_t>(t) * (p.heads + 2 * p.kv_heads) * p.head_dim;
  __half* x = p.qkv + row + static_cast<int64_t>(head) * p.head_dim;
  const bool is_k = head >= p.heads;
  const __half* v = p.qkv + row + static_cast<int64_t>(head + p.kv_heads) * p.head_dim;  // for a k head: its v
  const int position = p.positions[t], slot = p.slots[t];
  const __half h1 = x[i], h2 = x[i + half_dim];
  __half v1 = __float2half(0.f), v2 = v1;
  if (is_k) v1 = v[i], v2 = v[i + half_dim];
  float s, c;
  sincosf(static_cast<float>(position) * inv_freq, &s, &c);
  const float x1 = __half2float(h1), x2 = __half2float(h2);
  const __half y1 = __float2half_rn(x1 * c - x2 * s), y2 = __float2half_rn(x2 * c + x1 * s);
  x[i] = y1;
  x[i + half_dim] = y2;
  if (is_k && slot >= 0) {
    const int64_t at = (static_cast<int64_t>(slot) * p.kv_heads + (head - p.heads)) * p.head_dim;
    p.k_cache[at + i] = y1;
    p.k_cache[at + i + half_dim] = y2;
    p.v_cache[at + i] = v1;
    p.v_cache[at + i + half_dim] = v2;
  }
}

// Row t's gate element i (its up element: + SiluUpOffset): gate/up consecutive, or interleaved in runs.
__device__ __forceinline__ int64_t SiluGateAt(const SiluMulParams& p, int64_t t, int i) {
  const int run = p.interleave;
  return t * 2 * p.inter + (run > 0 ? static_cast<int64_t>(i / run) * 2 * run + i % run : i);
}
__device__ __forceinline__ int SiluUpOffset(const SiluMulParams& p) { return p.interleave > 0 ? p.interleave : p.inter; }

// Eight elements per thread and 16-byte accesses: inter (and a run) a multiple of 8, rows 16-byte aligned.
__global__ void SiluMul8Kernel(SiluMulParams p) {
  PdlLaunchDependents();  // the GEMM after it may start loading its weights (pdl.cuh)
  PdlWait();
  const int units = p.inter / 8;
  const int64_t total = static_cast<int64_t>(p.tokens) * units;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = idx / units, u = idx % units;
    const int64_t at = SiluGateAt(p, t, static_cast<int>(u) * 8);
    const uint4 g = *reinterpret_cast<const uint4*>(p.gate_up + at);
    const uint4 up = *reinterpret_cast<const uint4*>(p.gate_up + at + SiluUpOffset(p));
    const __half* gh = reinterpret_cast<const __half*>(&g);
    const __half* uh = reinterpret_cast<const __half*>(&up);
    uint4 o;
    __half* oh = reinterpret_cast<__half*>(&o);
#pragma unroll
    for (int e = 0; e < 8; ++e) oh[e] = SiluMulOf(gh[e], uh[e]);
    reinterpret_cast<uint4*>(p.out + t * p.inter)[u] = o;
  }
}

__global__ void SiluMulKernel(SiluMulParams p) {
  PdlLaunchDependents();  // the GEMM after it may start loading its weights (pdl.cuh)
  PdlWait();
  const int64_t total = static_cast<int64_t>(p.tokens) * p.inter;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = idx / p.inter, at = SiluGateAt(p, t, static_cast<int>(idx % p.inter));
    p.out[idx] = SiluMulOf(p.gate_up[at], p.gate_up[at + SiluUpOffset(p)]);
  }
}

absl::Status Shape(bool ok, const char* kernel, int tokens, int width) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(kernel, ": unsupported shape tokens=", tokens, " width=", width));
}

}  // namespace

absl::Status ValidateEmbedding(const EmbeddingParams& p) {
  if (!p.ids || !p.table || !p.out) return absl::InvalidArgumentError("embedding: null pointer");
  return Shape(p.tokens > 0 && p.hidden > 0 && p.vocab > 0, "embedding", p.tokens, p.hidden);
}
void LaunchEmbedding(const EmbeddingParams& p, cudaStream_t stream) {
  EmbeddingKernel<<<p.tokens, kThreads, 0, stream>>>(p);
}

absl::Status ValidateAddRmsNorm(const AddRmsNormParams& p) {
  if (!p.residual || !p.weight || !p.out) return absl::InvalidArgumentError("add_rmsnorm: null pointer");
  return Shape(p.tokens > 0 && p.hidden > 0 && p.eps > 0, "add_rmsnorm", p.tokens, p.hidden);
}
void LaunchAddRmsNorm(const AddRmsNormParams& p, cudaStream_t stream) {
  const int units = (p.hidden + kRmsUnit - 1) / kRmsUnit;
  const bool vec = p.hidden % kRmsUnit == 0 && units <= kNormMaxUnits * kThreads &&
                   reinterpret_cast<uintptr_t>(p.residual) % 16 == 0 && reinterpret_cast<uintptr_t>(p.weight) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.out) % 16 == 0 && reinterpret_cast<uintptr_t>(p.delta) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.residual_out) % 16 == 0;
  void (*kernel)(AddRmsNormParams) = !vec                      ? AddRmsNormAnyKernel
                                     : units <= kThreads     ? AddRmsNormKernel<1>
                                     : units <= 2 * kThreads ? AddRmsNormKernel<2>
                                                             : AddRmsNormKernel<kNormMaxUnits>;
  LaunchPdl(kernel, dim3(p.tokens), dim3(kThreads), 0, stream, p);
}

absl::Status ValidateRopeKv(const RopeKvParams& p) {
  if (!p.qkv || !p.positions || !p.slots || !p.inv_freq || !p.k_cache || !p.v_cache)
    return absl::InvalidArgumentError("rope_kv: null pointer");
  return Shape(p.tokens > 0 && p.heads > 0 && p.kv_heads > 0 && p.heads % p.kv_heads == 0 && p.head_dim > 0 &&
                   p.head_dim % 2 == 0 && p.head_dim <= 2048,
               "rope_kv", p.tokens, p.head_dim);
}
void LaunchRopeKv(const RopeKvParams& p, cudaStream_t stream) {
  const int heads = p.heads + p.kv_heads, per_cta = std::max(1, std::min(heads, kThreads / (p.head_dim / 2)));
  LaunchPdl(RopeKvKernel, dim3(p.tokens, (heads + per_cta - 1) / per_cta), dim3(p.head_dim / 2, per_cta), 0, stream, p);
}

absl::Status ValidateSiluMul(const SiluMulParams& p) {
  if (!p.gate_up || !p.out) return absl::InvalidArgumentError("silu_mul: null pointer");
  if (p.interleave < 0 || (p.interleave > 0 && p.inter % p.interleave != 0))
    return absl::InvalidArgumentError(absl::StrCat("silu_mul: interleave=", p.interleave,
                                                   " must be 0 or divide the width ", p.inter));
  return Shape(p.tokens > 0 && p.inter > 0, "silu_mul", p.tokens, p.inter);
}
void LaunchSiluMul(const SiluMulParams& p, cudaStream_t stream) {
  constexpr int kMaxCtas = 4096;  // grid-stride beyond this: enough to fill the chip several times over
  const bool vec = p.inter % 8 == 0 && p.interleave % 8 == 0 && reinterpret_cast<uintptr_t>(p.gate_up) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(p.out) % 16 == 0;
  const int64_t total = static_cast<int64_t>(p.tokens) * p.inter / (vec ? 8 : 1);
  const int ctas = static_cast<int>(std::min<int64_t>((total + kThreads - 1) / kThreads, kMaxCtas));
  LaunchPdl(vec ? SiluMul8Kernel : SiluMulKernel, dim3(ctas), dim3(kThreads), 0, stream, p);
}

}  // namespace inference::cuda
