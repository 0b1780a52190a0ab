// Element types of checkpoint tensors and exact conversions between them and float32. Pure functions,
// thread-safe.
//
//   float f = HalfToFloat(bits);            // IEEE binary16 -> float32, exact
//   uint16_t h = FloatToHalf(1.0f / 3);      // round to nearest, ties to even (as numpy's astype(float16))
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace inference {

enum class DType { kF16, kBF16, kF32, kI32 };

// Bytes per element.
size_t DTypeSize(DType t);
// The safetensors spelling: "F16", "BF16", "F32", "I32".
const char* DTypeName(DType t);
// Inverse of DTypeName; nullopt for types we do not load (F64, I64, U8, ...).
std::optional<DType> ParseDType(std::string_view name);
bool IsFloat(DType t);

float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
inline float BFloat16ToFloat(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

// Converts `n` elements of a float tensor (F16, BF16 or F32, little-endian, possibly unaligned) to float32.
void ToFloat32(DType t, const void* src, size_t n, float* dst);

}  // namespace inference
