// An owned device allocation (cudaMalloc/cudaFree) and an owned pinned host allocation. Move-only.
//
// Thread-safety: not synchronized; one owner.
//
//   ASSIGN_OR_RETURN(DeviceBuffer buf, DeviceBuffer::Allocate(bytes, "kv cache"));
//   float* p = buf.as<float>();
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace inference::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  [[nodiscard]] static absl::StatusOr<DeviceBuffer> Allocate(size_t bytes, const char* what) {
    DeviceBuffer b;
    if (bytes == 0) return b;
    const cudaError_t err = cudaMalloc(&b.ptr_, bytes);
    if (err != cudaSuccess)
      return absl::ResourceExhaustedError(absl::StrCat("device allocation of ", bytes, " bytes for ", what,
                                                       " failed: ", cudaGetErrorString(err)));
    b.bytes_ = bytes;
    return b;
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { Release(); }

  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void Release() {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  [[nodiscard]] static absl::StatusOr<PinnedBuffer> Allocate(size_t bytes, const char* what) {
    PinnedBuffer b;
    const cudaError_t err = cudaMallocHost(&b.ptr_, bytes);
    if (err != cudaSuccess)
      return absl::ResourceExhaustedError(absl::StrCat("pinned allocation of ", bytes, " bytes for ", what,
                                                       " failed: ", cudaGetErrorString(err)));
    b.bytes_ = bytes;
    return b;
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      if (ptr_) cudaFreeHost(ptr_);
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace inference::cuda
