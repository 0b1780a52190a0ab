#include "inference/model/dtype.h"

#include <cmath>
#include <cstring>

namespace inference {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kF32:
    case DType::kI32:
      return 4;
  }
  return 0;
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF32: return "F32";
    case DType::kI32: return "I32";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  if (name == "F32") return DType::kF32;
  if (name == "I32") return DType::kI32;
  return std::nullopt;
}

bool IsFloat(DType t) { return t != DType::kI32; }

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal half: mant * 2^-24, exactly representable in float32.
    float v = std::ldexp(static_cast<float>(mant), -24);
    std::memcpy(&bits, &v, sizeof bits);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {  // inf or nan (nan keeps a quiet payload bit)
    return sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u | ((abs >> 13) & 0x3FFu) : 0u);
  }
  const int exp = static_cast<int>(abs >> 23) - 127;
  if (exp > 15) return sign | 0x7C00u;  // overflow (the rounding below handles 65520 and up)
  uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
  int shift;          // bits dropped from the 24-bit significand
  uint32_t hexp;      // biased half exponent before rounding
  if (exp >= -14) {
    shift = 13;
    hexp = static_cast<uint32_t>(exp + 15);
  } else {
    shift = 13 + (-14 - exp);
    hexp = 0;
    if (shift > 24) return sign;  // below half the smallest subnormal: rounds to zero
  }
  uint32_t kept = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (kept & 1u))) ++kept;
  // Normal: kept includes the implicit bit (0x400) which folds into the exponent; carries propagate naturally.
  uint32_t out = hexp == 0 ? kept : (hexp << 10) + (kept - 0x400u);
  if (out >= 0x7C00u) out = 0x7C00u;
  return sign | static_cast<uint16_t>(out);
}

void ToFloat32(DType t, const void* src, size_t n, float* dst) {
  const auto* bytes = static_cast<const unsigned char*>(src);
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        dst[i] = HalfToFloat(h);
      }
      return;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t b;
        std::memcpy(&b, bytes + 2 * i, 2);
        dst[i] = BFloat16ToFloat(b);
      }
      return;
    case DType::kI32:
      for (size_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, bytes + 4 * i, 4);
        dst[i] = static_cast<float>(v);
      }
      return;
  }
}

}  // namespace inference
