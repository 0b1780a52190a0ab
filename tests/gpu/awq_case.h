// Random AWQ weights for the GPU tests: a case in the checkpoint's own packing (../shared/tools/awq_reference.py
// pack_awq) with its dequantized W, and its repack into the kernel layout on the device. Tests only.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "inference/cuda/kernels/w4a16.h"
#include "tests/gpu/gpu_test_util.h"

namespace inference::cuda::testing {

struct AwqCase {
  int k, n, group;
  std::vector<int32_t> qweight, qzeros;  // AWQ packing
  std::vector<float> scales;             // fp16 values
  std::vector<float> w;                  // dequantized W [k][n], float (exact products of fp16-representable values)
};

// pack_awq: nibble i of word c holds column 8c + kAwqOrder[i].
inline std::vector<int32_t> PackAwq(const std::vector<int>& q, int rows, int cols) {
  std::vector<int32_t> out(static_cast<size_t>(rows) * cols / 8, 0);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols / 8; ++c) {
      uint32_t word = 0;
      for (int i = 0; i < 8; ++i) word |= static_cast<uint32_t>(q[r * cols + 8 * c + kAwqOrder[i]] & 0xF) << (4 * i);
      out[static_cast<size_t>(r) * (cols / 8) + c] = static_cast<int32_t>(word);
    }
  return out;
}

inline AwqCase MakeCase(int k, int n, int group, std::mt19937* rng) {
  AwqCase c{k, n, group, {}, {}, {}, {}};
  std::uniform_int_distribution<int> nib(0, 15);
  std::vector<int> q(static_cast<size_t>(k) * n), z(static_cast<size_t>(k / group) * n);
  for (int& v : q) v = nib(*rng);
  for (int& v : z) v = nib(*rng);
  c.qweight = PackAwq(q, k, n);
  c.qzeros = PackAwq(z, k / group, n);
  c.scales = RandomHalfValues(z.size(), 0.001f, 0.02f, rng);
  c.w.resize(q.size());
  for (int r = 0; r < k; ++r)
    for (int col = 0; col < n; ++col) {
      const size_t g = static_cast<size_t>(r / group) * n + col;
      c.w[static_cast<size_t>(r) * n + col] = (q[static_cast<size_t>(r) * n + col] - z[g]) * c.scales[g];
    }
  return c;
}

struct Packed {
  DeviceArray<uint32_t> qweight;
  DeviceArray<__half2> scale_zero;
  Packed(const AwqCase& c) : qweight(static_cast<size_t>(c.n) * c.k / 8), scale_zero(static_cast<size_t>(c.n) * c.k / c.group) {
    DeviceArray<int32_t> qw(c.qweight), qz(c.qzeros);
    DeviceArray<__half> sc(ToHalf(c.scales));
    qweight.Poison();
    scale_zero.Poison();
    const AwqRepackParams p{qw.get(), qz.get(), sc.get(), c.k, c.n, c.group, qweight.get(), scale_zero.get(), 0};
    EXPECT_TRUE(ValidateAwqRepack(p).ok());
    LaunchAwqRepack(p, nullptr);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
};

inline int SmCount() {
  int sms = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
  return sms;
}

}  // namespace inference::cuda::testing
