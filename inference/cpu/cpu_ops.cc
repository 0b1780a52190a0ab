#include "inference/cpu/cpu_ops.h"

#include <cmath>
#include <cstring>

namespace inference {
namespace {

// Eight independent partial sums: lets the compiler keep them in vector lanes without reassociating a single sum.
constexpr int kDotLanes = 8;

float Dot(const float* a, const float* b, int n) {
  float acc[kDotLanes] = {};
  int i = 0;
  for (; i + kDotLanes <= n; i += kDotLanes) {
    for (int l = 0; l < kDotLanes; ++l) acc[l] += a[i + l] * b[i + l];
  }
  float s = 0;
  for (int l = 0; l < kDotLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

void Embed(const std::vector<float>& table, int hidden, const std::vector<int32_t>& tokens, float* x) {
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::memcpy(x + t * hidden, table.data() + static_cast<size_t>(tokens[t]) * hidden, hidden * sizeof(float));
  }
}

void RmsNorm(const float* x, const float* weight, int rows, int n, float eps, float* out) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * n;
    float* o = out + static_cast<size_t>(r) * n;
    const float mean_sq = Dot(xr, xr, n) / static_cast<float>(n);
    const float inv = 1.0f / std::sqrt(mean_sq + eps);
    for (int i = 0; i < n; ++i) o[i] = weight[i] * (xr[i] * inv);
  }
}

void Linear(ThreadPool& pool, const float* x, int rows, const CpuLinear& l, float* y) {
  const int K = l.in_features, N = l.out_features;
  pool.ParallelFor(N, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const float* w = l.weight.data() + n * K;
      for (int r = 0; r < rows; ++r) y[static_cast<size_t>(r) * N + n] = Dot(x + static_cast<size_t>(r) * K, w, K);
    }
  });
}

std::vector<float> RopeInvFreq(double theta, int head_dim) {
  std::vector<float> inv(head_dim / 2);
  const float base = static_cast<float>(theta);
  for (int i = 0; i < head_dim / 2; ++i) {
    inv[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(head_dim));
  }
  return inv;
}

void ApplyRope(float* x, int rows, int heads, int head_dim, const int32_t* positions, const std::vector<float>& inv_freq) {
  const int half = head_dim / 2;
  std::vector<float> cos_v(half), sin_v(half);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < half; ++i) {
      const float angle = static_cast<float>(positions[r]) * inv_freq[i];
      cos_v[i] = std::cos(angle);
      sin_v[i] = std::sin(angle);
    }
    for (int h = 0; h < heads; ++h) {
      float* v = x + (static_cast<size_t>(r) * heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float a = v[i], b = v[i + half];
        v[i] = a * cos_v[i] - b * sin_v[i];
        v[i + half] = b * cos_v[i] + a * sin_v[i];
      }
    }
  }
}

void SiluMul(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void AddInPlace(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace inference
