// Quantisers for GGUF export: fp32 rows → ggml blocks (layouts in quants.h), each computing what ggml's reference
// quantiser (quantize_row_*_ref in ggml-quants.c, the one llama-quantize runs without an importance matrix)
// computes, so an exported file holds the bytes llama.cpp would have written from the same fp32 weights.
//   Q8_0  d = max|x|/127, q = round(x/d)
//   Q4_0  d = (the signed x of largest |x|)/−8, q = min(15, trunc(x/d + 8.5))
//   Q5_0  d = (the signed x of largest |x|)/−16, q = min(31, trunc(x/d + 16.5)) — llama.cpp's fallback for Q4_K
//         where rows are not whole blocks of 256
//   Q4_K  per 32: the (scale, min) of least weighted squared error over 21 candidate scales (make_qkx2_quants),
//         then the 8 scales and 8 mins as 6-bit multiples of two fp16 super-scales, then q re-rounded against them
//   Q6_K  per 16: the scale of least x²-weighted squared error over 19 candidates (make_qx_quants), then the 16
//         scales as int8 multiples of one fp16 super-scale, then q re-rounded against them
//   Q5_1  d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5) — llama.cpp's fallback for Q5_K
//   Q3_K  per 16: a signed scale of 3-bit levels −4‥3 refined by up to 5 passes of single-level changes that raise
//         (Σw·x·l)²/Σw·l² (make_q3_quants with rmse, w = x²), then the 16 scales as 6-bit multiples of one fp16
//         super-scale (offset 32), then q re-rounded against them
//   Q5_K  as Q4_K with levels 0‥31 and 16 candidate scales (make_qkx2_quants, rmin −0.5)
// Every operation is the reference's fp32 operation in the reference's order: byte equality with it (and with the
// independent TypeScript port in tools/bench/kquants.ts, test/engine-gguf-export-quant.test.ts) depends on it, so
// the compiler may not fuse a·b + c into one rounding here (GCC fuses by default where the target has FMA: an arm64
// build of this file without the pragma below writes other bytes than x86-64; with it, the same bytes).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "quants.h"

namespace {
const int QK = 32, QK_K = 256;
const float GROUP_MAX_EPS = 1e-15f;

// round to nearest, ties to even, as ggml's nearest_int does it: adding 1.5·2²³ leaves the integer in the low
// mantissa bits (valid for |v| < 2²²; other values give what the reference gives, since it is the same bit trick)
inline int nearest_int(float v) {
  float f = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &f, 4);
  return (i & 0x007fffff) - 0x00400000;
}

inline float half_to_float(uint16_t h) { return f16_to_f32(h); }

// make_qx_quants with rmse_type 1 and no importance weights (Q6_K's use): signed levels L ∈ [0, 2·nmax), returns
// the scale; weights w = x²
float make_qx_quants_x2(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < GROUP_MAX_EPS) {
    for (int i = 0; i < n; i++) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = (int8_t)(l + nmax);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; is++) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; i++) {
      int l = nearest_int(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// make_q3_quants with do_rmse (Q3_K's use): signed levels −nmax‥nmax−1 from the plain rounding, then passes over
// the weights that move one level to where it would sit under the current least-squares scale, kept where the
// fit (Σw·x·l)²/Σw·l² grows (w = x²); levels returned offset by nmax, and the least-squares scale
float make_q3_quants_rmse(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    float ax = std::fabs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < GROUP_MAX_EPS) {  // all zero: levels 0, not nmax (the reference's bytes)
    for (int i = 0; i < n; i++) L[i] = 0;
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = nearest_int(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = (int8_t)l;
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; itry++) {
    int n_changed = 0;
    for (int i = 0; i < n; i++) {
      float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        int new_l = nearest_int(x[i] * sl2 / slx);
        new_l = std::max(-nmax, std::min(nmax - 1, new_l));
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = (int8_t)new_l;
            sumlx = slx;
            suml2 = sl2;
            n_changed++;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// make_qkx2_quants (Q4_K's use, squared error): levels L ∈ [0, nmax] with x ≈ scale·L − the_min; tries
// nstep + 1 scales (nmax + rmin + rdelta·is)/(max − min) and keeps the least weighted error
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; i++) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; i++) {
    int l = nearest_int(iscale * (x[i] - min));
    L[i] = (uint8_t)std::max(0, std::min(nmax, l));
    float diff = scale * L[i] + min - x[i];
    diff = diff * diff;
    best_error += weights[i] * diff;
  }
  for (int is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      int l = nearest_int(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = (uint8_t)l;
      float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; i++) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        diff = diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; i++) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// sub-block j's 6-bit scale and min from Q4_K's 12 packed bytes
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}
}  // namespace

void quantise_row_q8_0(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  for (int64_t i = 0; i < n / QK; i++, x += QK, b += 34) {
    float amax = 0;
    for (int j = 0; j < QK; j++) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    uint16_t h = f32_to_f16(d);
    std::memcpy(b, &h, 2);
    for (int j = 0; j < QK; j++) ((int8_t*)(b + 2))[j] = (int8_t)std::roundf(x[j] * id);
  }
}

// block: fp16 d, 16 bytes of nibbles (low: weights 0–15, high: 16–31)
void quantise_row_q4_0(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  for (int64_t i = 0; i < n / QK; i++, x += QK, b += 18) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK; j++)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    uint16_t h = f32_to_f16(d);
    std::memcpy(b, &h, 2);
    for (int j = 0; j < QK / 2; j++) {
      // the reference converts to int8 (truncating) and clamps above only: x·id ≥ −8 keeps it ≥ 0
      int8_t q0 = (int8_t)(int32_t)(x[j] * id + 8.5f), q1 = (int8_t)(int32_t)(x[QK / 2 + j] * id + 8.5f);
      uint8_t a = (uint8_t)std::min<int>(15, q0), c = (uint8_t)std::min<int>(15, q1);
      b[2 + j] = (uint8_t)(a | (c << 4));
    }
  }
}

// block: fp16 d, u32 qh (5th bit of weight j = bit j), 16 bytes of nibbles (low: weights 0–15, high: 16–31)
void quantise_row_q5_0(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  for (int64_t i = 0; i < n / QK; i++, x += QK, b += 22) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK; j++)
      if (amax < std::fabs(x[j])) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    uint16_t h = f32_to_f16(d);
    std::memcpy(b, &h, 2);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
      // as Q4_0: converted to int8 (truncating), clamped above only
      const int8_t q0 = (int8_t)(int32_t)(x[j] * id + 16.5f), q1 = (int8_t)(int32_t)(x[QK / 2 + j] * id + 16.5f);
      const uint8_t a = (uint8_t)std::min<int>(31, q0), c = (uint8_t)std::min<int>(31, q1);
      b[6 + j] = (uint8_t)((a & 0x0F) | ((c & 0x0F) << 4));
      qh |= (uint32_t)((a & 0x10) >> 4) << j;
      qh |= (uint32_t)((c & 0x10) >> 4) << (j + QK / 2);
    }
    std::memcpy(b + 2, &qh, 4);
  }
}

// The head of a Q4_K / Q5_K block (its first 16 bytes: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins) and the
// levels L[256] ∈ [0, nmax] of its weights: per 32, the (scale, min) of make_qkx2_quants (rmin, nstep as the type
// sets them), the scales and mins rounded to 6 bits against the block's largest, then each weight re-levelled with
// the rounded pair — as ggml's quantize_row_q4_K_ref / q5_K_ref do alike.
static void quantise_k4_head(const float* x, int nmax, float rmin, int nstep, uint8_t* b, uint8_t* L) {
  uint8_t Laux[32];
  float weights[32], mins[QK_K / 32], scales[QK_K / 32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < QK_K / 32; j++) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
    float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; l++) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  uint8_t* sc = b + 4;
  std::memset(sc, 0, 12);
  float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < QK_K / 32; j++) {
    uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
    uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
    ls = std::min<uint8_t>(63, ls);
    lm = std::min<uint8_t>(63, lm);
    if (j < 4) {
      sc[j] = ls;
      sc[j + 4] = lm;
    } else {
      sc[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
      sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
      sc[j] |= (uint8_t)((lm >> 4) << 6);
    }
  }
  uint16_t dh = f32_to_f16(max_scale / 63.f), mh = f32_to_f16(max_min / 63.f);
  std::memcpy(b, &dh, 2);
  std::memcpy(b + 2, &mh, 2);
  for (int j = 0; j < QK_K / 32; j++) {
    uint8_t s, m;
    scale_min_k4(j, sc, &s, &m);
    const float d = half_to_float(dh) * s;
    if (!d) continue;  // the levels of the search stay
    const float dm = half_to_float(mh) * m;
    for (int ii = 0; ii < 32; ii++) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = (uint8_t)std::max(0, std::min(nmax, l));
    }
  }
}

// block: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles
void quantise_row_q4_K(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, b += 144) {
    quantise_k4_head(x, 15, -1.f, 20, b, L);
    uint8_t* q = b + 16;
    for (int j = 0; j < QK_K; j += 64, q += 32)
      for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
  }
}

// block: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales, fp16 d
void quantise_row_q6_K(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, b += 210) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ib++) {
      const float scale = make_qx_quants_x2(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      if (std::fabs(scale) > max_abs_scale) {
        max_abs_scale = std::fabs(scale);
        max_scale = scale;
      }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {  // an all-zero block (d = +0)
      std::memset(b, 0, 210);
      continue;
    }
    int8_t* sc = (int8_t*)(b + 192);
    const float iscale = -128.f / max_scale;
    uint16_t dh = f32_to_f16(1 / iscale);
    std::memcpy(b + 208, &dh, 2);
    for (int ib = 0; ib < QK_K / 16; ib++) sc[ib] = (int8_t)std::min(127, nearest_int(iscale * scales[ib]));
    for (int j = 0; j < QK_K / 16; j++) {
      const float d = half_to_float(dh) * sc[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ii++) {
        int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = (int8_t)(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = b;
    uint8_t* qh = b + 128;
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
      for (int l = 0; l < 32; l++) {
        const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l] = (uint8_t)(q1 | (q3 << 4));
        ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
        qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
  }
}

// block: fp16 d, fp16 m, u32 qh (5th bit of weight j = bit j), 16 bytes of nibbles (low: weights 0–15, high: 16–31)
void quantise_row_q5_1(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  for (int64_t i = 0; i < n / QK; i++, x += QK, b += 24) {
    float min = 3.402823466e+38f, max = -3.402823466e+38f;
    for (int j = 0; j < QK; j++) {
      if (x[j] < min) min = x[j];
      if (x[j] > max) max = x[j];
    }
    const float d = (max - min) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    const uint16_t dh = f32_to_f16(d), mh = f32_to_f16(min);
    std::memcpy(b, &dh, 2);
    std::memcpy(b + 2, &mh, 2);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
      // the reference converts to uint8 (truncating): (x − min)·id ≥ 0, so + 0.5 rounds half up
      const uint8_t a = (uint8_t)(int32_t)((x[j] - min) * id + 0.5f), c = (uint8_t)(int32_t)((x[QK / 2 + j] - min) * id + 0.5f);
      b[8 + j] = (uint8_t)((a & 0x0F) | ((c & 0x0F) << 4));
      qh |= (uint32_t)((a & 0x10) >> 4) << j;
      qh |= (uint32_t)((c & 0x10) >> 4) << (j + QK / 2);
    }
    std::memcpy(b + 4, &qh, 4);
  }
}

// block: 32 bytes hmask (bit k of byte m: the 3rd bit of weight 32·k + m), 64 bytes qs (2 low bits; byte l of each
// 32 holds weights l, l + 32, l + 64, l + 96 of its 128), 12 bytes of 6-bit scales (low nibbles of 0–7 in bytes
// 0–7, of 8–15 in their high nibbles; the 2 high bits of scale j in byte 8 + j%4 at bit 2·(j/4)), fp16 d
void quantise_row_q3_K(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, b += 110) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < QK_K / 16; j++) {
      scales[j] = make_q3_quants_rmse(16, 4, x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    uint8_t* hmask = b;
    uint8_t* qs = b + 32;
    uint8_t* sc = b + 96;
    std::memset(sc, 0, 12);
    uint16_t dh;
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < QK_K / 16; j++) {
        int8_t l = (int8_t)nearest_int(iscale * scales[j]);
        l = (int8_t)(std::max<int>(-32, std::min<int>(31, l)) + 32);
        if (j < 8) sc[j] = (uint8_t)(l & 0xF);
        else sc[j - 8] |= (uint8_t)((l & 0xF) << 4);
        l = (int8_t)(l >> 4);
        sc[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
      }
      dh = f32_to_f16(1 / iscale);
    } else {
      dh = f32_to_f16(0.f);
    }
    std::memcpy(b + 108, &dh, 2);
    for (int j = 0; j < QK_K / 16; j++) {
      int s = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
      s = (int8_t)((s | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
      const float d = half_to_float(dh) * s;
      if (!d) continue;  // the levels of the search stay
      for (int ii = 0; ii < 16; ii++) {
        int l = nearest_int(x[16 * j + ii] / d);
        L[16 * j + ii] = (int8_t)(std::max(-4, std::min(3, l)) + 4);
      }
    }
    std::memset(hmask, 0, 32);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < QK_K; j++) {
      if (L[j] > 3) {
        hmask[m] |= hm;
        L[j] = (int8_t)(L[j] - 4);
      }
      if (++m == QK_K / 8) {
        m = 0;
        hm = (uint8_t)(hm << 1);
      }
    }
    for (int j = 0; j < QK_K; j += 128)
      for (int l = 0; l < 32; l++)
        qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
  }
}

// block: fp16 d, fp16 dmin, 12 bytes of 6-bit scales and mins (as Q4_K), 32 bytes qh (5th bits: weight 64·c + l
// in bit 2c of byte l, weight 64·c + 32 + l in bit 2c + 1), 128 bytes of nibbles (as Q4_K)
void quantise_row_q5_K(const float* x, void* out, int64_t n) {
  uint8_t* b = (uint8_t*)out;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K, b += 176) {
    quantise_k4_head(x, 31, -0.5f, 15, b, L);
    uint8_t* qh = b + 16;
    uint8_t* ql = b + 48;
    std::memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int c = 0; c < QK_K; c += 64, ql += 32) {
      for (int j = 0; j < 32; j++) {
        int l1 = L[c + j], l2 = L[c + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = (uint8_t)(l1 | (l2 << 4));
      }
      m1 = (uint8_t)(m1 << 2);
      m2 = (uint8_t)(m2 << 2);
    }
  }
}

void quantise_row(DType t, const float* x, void* out, int64_t n) {
  switch (t) {
    case DT_Q8_0: quantise_row_q8_0(x, out, n); return;
    case DT_Q4_0: quantise_row_q4_0(x, out, n); return;
    case DT_Q5_0: quantise_row_q5_0(x, out, n); return;
    case DT_Q4_K: quantise_row_q4_K(x, out, n); return;
    case DT_Q6_K: quantise_row_q6_K(x, out, n); return;
    case DT_Q5_1: quantise_row_q5_1(x, out, n); return;
    case DT_Q3_K: quantise_row_q3_K(x, out, n); return;
    case DT_Q5_K: quantise_row_q5_K(x, out, n); return;
    default: throw std::runtime_error(std::string("cannot quantise to ") + dtype_name(t));
  }
}

bool dtype_writable(DType t) {
  return t == DT_F32 || t == DT_F16 || t == DT_BF16 || t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q5_0 || t == DT_Q5_1 ||
         t == DT_Q3_K || t == DT_Q4_K || t == DT_Q5_K || t == DT_Q6_K;
}
