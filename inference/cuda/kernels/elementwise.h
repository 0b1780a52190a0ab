// The small per-token kernels of the Mistral forward: embedding gather, RMSNorm fused with the residual add,
// RoPE fused with the paged KV write, and SiLU(gate) * up. Kernels know nothing of requests; launchers never
// allocate. The residual stream is fp32 (more accurate than an fp16 one, at 4 bytes a hidden element per token).
//
// Thread-safety: launchers are reentrant.
//
//   EmbeddingParams ep{ids, table, residual, tokens, hidden, vocab};
//   RETURN_IF_ERROR(ValidateEmbedding(ep));
//   LaunchEmbedding(ep, stream);
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"

namespace inference::cuda {

// out[t] = float(table[ids[t]]). ids must be in [0, vocab) (the backend validates them on the host).
struct EmbeddingParams {
  const int32_t* ids = nullptr;   // [tokens]
  const __half* table = nullptr;  // [vocab][hidden]
  float* out = nullptr;           // [tokens][hidden]
  int tokens = 0, hidden = 0, vocab = 0;
};
[[nodiscard]] absl::Status ValidateEmbedding(const EmbeddingParams& p);
void LaunchEmbedding(const EmbeddingParams& p, cudaStream_t stream);

// For each output row t, with r = rows ? rows[t] : t and h = residual[r] + delta[r] (residual[r] without delta):
//   residual_out[r] = h                (when delta is set; residual_out null: residual itself, in place)
//   out[t] = half(h * rsqrt(mean(h^2) + eps) * weight)
// in the order of rms_norm.cuh (hidden a multiple of 8 up to 8192, 16-byte aligned rows), which the kNarrow GEMM's
// norm input (W4A16NormInput, w4a16.h) shares.
struct AddRmsNormParams {
  float* residual = nullptr;      // [*][hidden]
  const __half* delta = nullptr;  // [*][hidden] or null; row r is added to residual row r
  const int32_t* rows = nullptr;  // [tokens] gather index into residual, or null (identity)
  const __half* weight = nullptr; // [hidden]
  __half* out = nullptr;          // [tokens][hidden]
  int tokens = 0, hidden = 0;
  float eps = 1e-5f;
  float* residual_out = nullptr;  // [*][hidden] or null (in place); not written without delta
};
[[nodiscard]] absl::Status ValidateAddRmsNorm(const AddRmsNormParams& p);
void LaunchAddRmsNorm(const AddRmsNormParams& p, cudaStream_t stream);

// Rotates q and k of each token in place (the half-rotation convention of Mistral/Llama: pairs (i, i + d/2)),
// angle position * inv_freq[i] in fp32 as transformers computes it, then writes k and v to the paged cache at
// slot slots[t] (block * block_size + offset; negative: padding, nothing written).
struct RopeKvParams {
  __half* qkv = nullptr;            // [tokens][(heads + 2 * kv_heads) * head_dim]: q | k | v
  const int32_t* positions = nullptr;
  const int32_t* slots = nullptr;
  const float* inv_freq = nullptr;  // [head_dim / 2]
  __half* k_cache = nullptr;        // one layer's pool [blocks * block_size][kv_heads][head_dim]
  __half* v_cache = nullptr;
  int tokens = 0, heads = 0, kv_heads = 0, head_dim = 0;
};
[[nodiscard]] absl::Status ValidateRopeKv(const RopeKvParams& p);
void LaunchRopeKv(const RopeKvParams& p, cudaStream_t stream);

// out[t][i] = half(silu(gate[t][i]) * up[t][i]), fp32 inside (silu.cuh's SiluMulOf).
struct SiluMulParams {
  const __half* gate_up = nullptr;  // [tokens][2 * inter]: gate then up, or runs of `interleave` of each in turn
  __half* out = nullptr;            // [tokens][inter]
  int tokens = 0, inter = 0;
  int interleave = 0;               // 0, or a divisor of inter (DeviceLinear::interleave)
};
[[nodiscard]] absl::Status ValidateSiluMul(const SiluMulParams& p);
void LaunchSiluMul(const SiluMulParams& p, cudaStream_t stream);

}  // namespace inference::cuda
