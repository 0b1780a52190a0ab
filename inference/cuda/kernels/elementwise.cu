// Embedding, fused add + RMSNorm, RoPE + KV write, SiLU * up (elementwise.h).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "inference/cuda/kernels/elementwise.h"
#include "inference/cuda/kernels/pdl.cuh"

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

__device__ float BlockSum(float v, float* shared) {
#pragma unroll
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  if (threadIdx.x % 32 == 0) shared[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) total += shared[w];
  return total;
}

__global__ void __launch_bounds__(kThreads) AddRmsNormKernel(AddRmsNormParams p) {
  PdlLaunchDependents();  // the GEMM after it may start loading its weights (pdl.cuh)
  PdlWait();
  __shared__ float partial[kWarps];
  const int t = blockIdx.x;
  const int r = p.rows ? p.rows[t] : t;
  float* res = p.residual + static_cast<int64_t>(r) * p.hidden;
  const __half* delta = p.delta ? p.delta + static_cast<int64_t>(r) * p.hidden : nullptr;
  float sq = 0.f;
  for (int i = threadIdx.x; i < p.hidden; i += kThreads) {
    float v = res[i];
    if (delta) {
      v += __half2float(delta[i]);
      res[i] = v;
    }
    sq += v * v;
  }
  const float inv = rsqrtf(BlockSum(sq, partial) / p.hidden + p.eps);
  __half* out = p.out + static_cast<int64_t>(t) * p.hidden;
  for (int i = threadIdx.x; i < p.hidden; i += kThreads) out[i] = __float2half_rn(res[i] * inv * __half2float(p.weight[i]));
}

// One CTA per token; thread i of a head handles the pair (i, i + head_dim / 2).
__global__ void RopeKvKernel(RopeKvParams p) {
  PdlLaunchDependents();
  PdlWait();
  const int t = blockIdx.x;
  const int half_dim = p.head_dim / 2;
  const int64_t row = static_cast<int64_t>(t) * (p.heads + 2 * p.kv_heads) * p.head_dim;
  const float pos = static_cast<float>(p.positions[t]);
  const int slot = p.slots[t];
  const int64_t kv_row = static_cast<int64_t>(slot) * p.kv_heads * p.head_dim;
  for (int idx = threadIdx.x; idx < (p.heads + p.kv_heads) * half_dim; idx += blockDim.x) {
    const int head = idx / half_dim, i = idx % half_dim;
    __half* x = p.qkv + row + static_cast<int64_t>(head) * p.head_dim;
    float s, c;
    sincosf(pos * p.inv_freq[i], &s, &c);
    const float x1 = __half2float(x[i]), x2 = __half2float(x[i + half_dim]);
    const __half y1 = __float2half_rn(x1 * c - x2 * s), y2 = __float2half_rn(x2 * c + x1 * s);
    x[i] = y1;
    x[i + half_dim] = y2;
    if (head >= p.heads && slot >= 0) {
      __half* k = p.k_cache + kv_row + static_cast<int64_t>(head - p.heads) * p.head_dim;
      k[i] = y1;
      k[i + half_dim] = y2;
    }
  }
  if (slot < 0) return;
  const __half* v = p.qkv + row + static_cast<int64_t>(p.heads + p.kv_heads) * p.head_dim;
  for (int idx = threadIdx.x; idx < p.kv_heads * p.head_dim; idx += blockDim.x) p.v_cache[kv_row + idx] = v[idx];
}

__global__ void SiluMulKernel(SiluMulParams p) {
  PdlLaunchDependents();  // the GEMM after it may start loading its weights (pdl.cuh)
  PdlWait();
  const int64_t total = static_cast<int64_t>(p.tokens) * p.inter;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = idx / p.inter, i = idx % p.inter;
    const float g = __half2float(p.gate_up[t * 2 * p.inter + i]);
    const float u = __half2float(p.gate_up[t * 2 * p.inter + p.inter + i]);
    p.out[idx] = __float2half_rn(g / (1.f + expf(-g)) * u);
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
  LaunchPdl(AddRmsNormKernel, dim3(p.tokens), dim3(kThreads), 0, stream, p);
}

absl::Status ValidateRopeKv(const RopeKvParams& p) {
  if (!p.qkv || !p.positions || !p.slots || !p.inv_freq || !p.k_cache || !p.v_cache)
    return absl::InvalidArgumentError("rope_kv: null pointer");
  return Shape(p.tokens > 0 && p.heads > 0 && p.kv_heads > 0 && p.heads % p.kv_heads == 0 && p.head_dim > 0 &&
                   p.head_dim % 2 == 0,
               "rope_kv", p.tokens, p.head_dim);
}
void LaunchRopeKv(const RopeKvParams& p, cudaStream_t stream) {
  LaunchPdl(RopeKvKernel, dim3(p.tokens), dim3(kThreads), 0, stream, p);
}

absl::Status ValidateSiluMul(const SiluMulParams& p) {
  if (!p.gate_up || !p.out) return absl::InvalidArgumentError("silu_mul: null pointer");
  return Shape(p.tokens > 0 && p.inter > 0, "silu_mul", p.tokens, p.inter);
}
void LaunchSiluMul(const SiluMulParams& p, cudaStream_t stream) {
  constexpr int kMaxCtas = 4096;  // grid-stride beyond this: enough to fill the chip several times over
  const int64_t total = static_cast<int64_t>(p.tokens) * p.inter;
  const int ctas = static_cast<int>(std::min<int64_t>((total + kThreads - 1) / kThreads, kMaxCtas));
  LaunchPdl(SiluMulKernel, dim3(ctas), dim3(kThreads), 0, stream, p);
}

}  // namespace inference::cuda
