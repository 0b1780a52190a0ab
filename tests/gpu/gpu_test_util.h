// Helpers for the GPU comparison tests: device arrays filled from host vectors, fp16 conversion, random data,
// and the relative-error measure. Tests only.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "inference/model/dtype.h"

namespace inference::cuda::testing {

#define ASSERT_CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << cudaGetErrorString(cudaGetLastError())

// The shared assets folder: $AWQSERVE_SHARED_DIR when set (the GPU machine), else the configured path.
inline std::string SharedDir() {
  const char* env = std::getenv("AWQSERVE_SHARED_DIR");
  return env && *env ? env : AWQSERVE_SHARED_DIR;
}

template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) { cudaMalloc(&ptr_, n * sizeof(T) + 16); }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return ptr_; }
  std::vector<T> Download() const {
    std::vector<T> out(n_);
    cudaDeviceSynchronize();
    cudaMemcpy(out.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost);
    return out;
  }
  // Fills with 0xFF bytes (NaN as fp16/fp32) so an unwritten element cannot pass a comparison.
  void Poison() { cudaMemset(ptr_, 0xFF, n_ * sizeof(T)); }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

inline std::vector<__half> ToHalf(const std::vector<float>& f) {
  std::vector<__half> out(f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    __half_raw raw;
    raw.x = FloatToHalf(f[i]);
    out[i] = __half(raw);
  }
  return out;
}

inline std::vector<float> ToFloat(const std::vector<__half>& h) {
  std::vector<float> out(h.size());
  for (size_t i = 0; i < h.size(); ++i) {
    out[i] = HalfToFloat(static_cast<__half_raw>(h[i]).x);
  }
  return out;
}

// Values already rounded to fp16, so host references see exactly what the device sees.
inline std::vector<float> RandomHalfValues(size_t n, float lo, float hi, std::mt19937* rng) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = HalfToFloat(FloatToHalf(d(*rng)));
  return v;
}

// ||a - b|| / ||b||; NaN in a makes it NaN (and every comparison fail).
inline double RelErr(const std::vector<float>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

}  // namespace inference::cuda::testing
