// Storage types of weights as they sit in the checkpoint file. Weights are never converted to fp32 in bulk:
// kernels read them in their stored type and accumulate in fp32.
#pragma once
#include <cstdint>
#include <cstring>

// F32/F16/BF16 are element types; the rest are ggml's block-quantised types (quants.h), read only through
// dequantise_blocks — dtype_size and load_elem are for the element types.
enum DType {
  DT_F32 = 0, DT_F16 = 1, DT_BF16 = 2, DT_Q8_0 = 3, DT_Q4_0 = 4, DT_Q4_K = 5, DT_Q5_K = 6, DT_Q6_K = 7,
  DT_Q4_1 = 8, DT_Q5_0 = 9, DT_Q5_1 = 10, DT_Q2_K = 11, DT_Q3_K = 12, DT_IQ4_NL = 13, DT_IQ4_XS = 14, DT_MXFP4 = 15,
  DT_TQ1_0 = 16, DT_TQ2_0 = 17,
  // the IQ grid types (quants_iq.h)
  DT_IQ3_S = 18, DT_IQ3_XXS = 19, DT_IQ2_XXS = 20, DT_IQ2_XS = 21, DT_IQ2_S = 22, DT_IQ1_S = 23, DT_IQ1_M = 24
};

static inline int dtype_size(DType t) { return t == DT_F32 ? 4 : 2; }

static inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// round-to-nearest-even, NaN kept quiet
static inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

static inline float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do { man <<= 1; e++; } while (!(man & 0x400));
      man &= 0x3ff;
      u = sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000 | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// round-to-nearest-even with overflow to inf and gradual underflow
static inline uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  int32_t exp = (int32_t)((u >> 23) & 0xff);
  uint32_t man = u & 0x7fffff;
  if (exp == 255) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  int32_t e = exp - 127 + 15;
  if (e >= 31) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    man |= 0x800000;
    int shift = 14 - e;
    uint32_t half = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
  uint32_t rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;  // may carry into exponent: correct
  return (uint16_t)half;
}

// One element of a stored tensor as fp32.
static inline float load_elem(const void* base, DType t, int64_t i) {
  switch (t) {
    case DT_F32: return ((const float*)base)[i];
    case DT_F16: return f16_to_f32(((const uint16_t*)base)[i]);
    default: return bf16_to_f32(((const uint16_t*)base)[i]);
  }
}
