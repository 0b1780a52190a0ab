#include "inference/model/awq_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "inference/model/dtype.h"

namespace inference {
namespace {

// The smallest scale quantize_rtn allows (a constant group would otherwise divide by zero).
constexpr float kMinScale = 1e-5f;

uint32_t LoadWord(const void* base, int64_t index) {
  uint32_t w;
  std::memcpy(&w, static_cast<const unsigned char*>(base) + 4 * index, 4);
  return w;
}

}  // namespace

void PackAwq(const uint8_t* q, int64_t rows, int64_t cols, int32_t* packed) {
  const int64_t words = cols / kAwqPackFactor;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < words; ++c) {
      uint32_t w = 0;
      for (int i = 0; i < kAwqPackFactor; ++i) {
        const uint32_t v = q[r * cols + c * kAwqPackFactor + kAwqOrder[i]] & kAwqMaxQ;
        w |= v << (kAwqBits * i);
      }
      std::memcpy(&packed[r * words + c], &w, 4);
    }
  }
}

void UnpackAwq(const void* packed, int64_t rows, int64_t cols, uint8_t* q) {
  const int64_t words = cols / kAwqPackFactor;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < words; ++c) {
      const uint32_t w = LoadWord(packed, r * words + c);
      for (int i = 0; i < kAwqPackFactor; ++i) {
        q[r * cols + c * kAwqPackFactor + kAwqOrder[i]] = static_cast<uint8_t>((w >> (kAwqBits * i)) & kAwqMaxQ);
      }
    }
  }
}

void DequantizeAwq(const void* qweight, const void* qzeros, const void* scales, int64_t K, int64_t N, int group,
                   float* w_kn) {
  std::vector<uint8_t> q(static_cast<size_t>(K * N));
  std::vector<uint8_t> z(static_cast<size_t>(K / group * N));
  UnpackAwq(qweight, K, N, q.data());
  UnpackAwq(qzeros, K / group, N, z.data());
  std::vector<float> s(static_cast<size_t>(K / group * N));
  ToFloat32(DType::kF16, scales, s.size(), s.data());
  for (int64_t k = 0; k < K; ++k) {
    const int64_t g = k / group;
    for (int64_t n = 0; n < N; ++n) {
      w_kn[k * N + n] = (static_cast<float>(q[k * N + n]) - static_cast<float>(z[g * N + n])) * s[g * N + n];
    }
  }
}

AwqTensors QuantizeRtn(const float* w_kn, int64_t K, int64_t N, int group) {
  const int64_t groups = K / group;
  std::vector<uint8_t> q(static_cast<size_t>(K * N));
  std::vector<uint8_t> zeros(static_cast<size_t>(groups * N));
  AwqTensors out;
  out.scales.resize(static_cast<size_t>(groups * N));
  const float max_q = static_cast<float>(kAwqMaxQ);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t n = 0; n < N; ++n) {
      float mx = w_kn[g * group * N + n], mn = mx;
      for (int64_t r = 1; r < group; ++r) {
        const float v = w_kn[(g * group + r) * N + n];
        mx = std::max(mx, v);
        mn = std::min(mn, v);
      }
      const uint16_t scale_bits = FloatToHalf(std::max((mx - mn) / max_q, kMinScale));
      const float scale = HalfToFloat(scale_bits);
      const float zero = std::clamp(std::nearbyint(-mn / scale), 0.0f, max_q);
      out.scales[g * N + n] = scale_bits;
      zeros[g * N + n] = static_cast<uint8_t>(zero);
      for (int64_t r = 0; r < group; ++r) {
        const int64_t k = g * group + r;
        const float v = std::clamp(std::nearbyint(w_kn[k * N + n] / scale) + zero, 0.0f, max_q);
        q[k * N + n] = static_cast<uint8_t>(v);
      }
    }
  }
  out.qweight.resize(static_cast<size_t>(K * N / kAwqPackFactor));
  out.qzeros.resize(static_cast<size_t>(groups * N / kAwqPackFactor));
  PackAwq(q.data(), K, N, out.qweight.data());
  PackAwq(zeros.data(), groups, N, out.qzeros.data());
  return out;
}

}  // namespace inference
