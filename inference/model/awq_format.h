// The AWQ "GEMM" weight format (AutoAWQ; TheBloke's Mistral-7B-Instruct-v0.1-AWQ), written from its description in
// shared/tools/awq_reference.py and pinned to it bit for bit by tests. For a linear with in_features K,
// out_features N, group size G:
//   qweight int32 [K, N/8]    nibble i (bits 4i..4i+3) of word c holds column 8c + kAwqOrder[i]
//   qzeros  int32 [K/G, N/8]  the same packing, one zero point per (group, column)
//   scales  fp16  [K/G, N]
//   W[k, n] = (q[k, n] - z[k / G, n]) * s[k / G, n];   y = x @ W   (W is [K, N], not nn.Linear's [N, K])
// Pure functions, thread-safe. Packed inputs may be unaligned (they point into mapped files).
//
//   std::vector<float> w_kn(K * N);
//   DequantizeAwq(qweight->data, qzeros->data, scales->data, K, N, G, w_kn.data());
#pragma once

#include <cstdint>
#include <vector>

namespace inference {

inline constexpr int kAwqBits = 4;
inline constexpr int kAwqPackFactor = 32 / kAwqBits;       // 4-bit values per int32 word
inline constexpr int kAwqMaxQ = (1 << kAwqBits) - 1;       // 15
inline constexpr int kAwqOrder[kAwqPackFactor] = {0, 2, 4, 6, 1, 3, 5, 7};

// q: [rows, cols] values 0..15 (cols % 8 == 0) -> packed [rows, cols / 8].
void PackAwq(const uint8_t* q, int64_t rows, int64_t cols, int32_t* packed);
// packed: [rows, cols / 8] int32 (little-endian bytes) -> q [rows, cols].
void UnpackAwq(const void* packed, int64_t rows, int64_t cols, uint8_t* q);

// W [K, N] (x @ W layout) from the three tensors; scales are fp16 bits.
void DequantizeAwq(const void* qweight, const void* qzeros, const void* scales, int64_t K, int64_t N, int group,
                   float* w_kn);

struct AwqTensors {
  std::vector<int32_t> qweight;   // [K, N/8]
  std::vector<int32_t> qzeros;    // [K/G, N/8]
  std::vector<uint16_t> scales;   // [K/G, N] fp16 bits
};

// Round-to-nearest asymmetric quantization of W [K, N], exactly awq_reference.quantize_rtn: per (group, column)
// scale = fp16(max((max - min) / 15, 1e-5)), zero = clip(round(-min / scale), 0, 15),
// q = clip(round(w / scale) + zero, 0, 15); float32 arithmetic, round half to even. Requires K % group == 0 and
// N % 8 == 0 and finite weights (the caller validates).
AwqTensors QuantizeRtn(const float* w_kn, int64_t K, int64_t N, int group);

}  // namespace inference
