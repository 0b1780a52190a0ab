// The float32 building blocks of the CPU forward pass, each following Hugging Face transformers' Mistral
// arithmetic: RMSNorm, rotary embeddings (rotate_half convention), linear layers, SiLU·mul, and the paged KV cache
// writes and attention (paged_attention.h). Matrices are row-major; "rows" are the batch's tokens.
//
// Thread-safety: pure functions of their arguments; the ThreadPool splits work over disjoint outputs.
//
//   RmsNorm(x, layer.input_layernorm.data(), T, hidden, eps, h);
//   Linear(pool, h, T, layer.q_proj, q);                 // q[T, out] = h[T, in] @ q_proj.weight^T
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "inference/cpu/cpu_model.h"
#include "inference/cpu/thread_pool.h"

namespace inference {

// x[t] = table[tokens[t]] for rows of `hidden` floats. Token ids must be valid (the backend checks them).
void Embed(const std::vector<float>& table, int hidden, const std::vector<int32_t>& tokens, float* x);

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight, per row of n.
void RmsNorm(const float* x, const float* weight, int rows, int n, float eps, float* out);

// y[rows, out] = x[rows, in] @ l.weight^T, parallel over output features.
void Linear(ThreadPool& pool, const float* x, int rows, const CpuLinear& l, float* y);

// The rotary embedding's inverse frequencies, as transformers computes them in float32:
// inv_freq[i] = 1 / theta^(2i / head_dim), i < head_dim / 2.
std::vector<float> RopeInvFreq(double theta, int head_dim);

// Rotates each head of x[rows, heads * head_dim] by its row's position (rotate_half: pairs (i, i + head_dim/2)).
void ApplyRope(float* x, int rows, int heads, int head_dim, const int32_t* positions, const std::vector<float>& inv_freq);

// gate[i] = silu(gate[i]) * up[i].
void SiluMul(float* gate, const float* up, size_t n);

// x[i] += y[i].
void AddInPlace(float* x, const float* y, size_t n);

}  // namespace inference
