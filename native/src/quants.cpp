// Dequantisation of ggml's block types (layouts in quants.h, as ggml-common.h / ggml-quants.c define them) and the
// Q8_0 quantiser used when exporting to GGUF.
#include "quants.h"

#include <cmath>
#include <cstring>

namespace {
const int QK = 32, QK_K = 256;

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);  // blocks are only 2-byte aligned in the file: read fields byte-wise
  return f16_to_f32(h);
}

// the 6-bit scale and min of sub-block j (0‥7) of a Q4_K/Q5_K block, packed in 12 bytes
void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void dq_q8_0(const uint8_t* b, float* y) {  // 34 bytes
  float d = half_at(b);
  const int8_t* qs = (const int8_t*)(b + 2);
  for (int j = 0; j < QK; j++) y[j] = d * (float)qs[j];
}

void dq_q4_0(const uint8_t* b, float* y) {  // 18 bytes
  float d = half_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < QK / 2; j++) {
    y[j] = d * (float)((qs[j] & 0x0F) - 8);
    y[j + QK / 2] = d * (float)((qs[j] >> 4) - 8);
  }
}

void dq_q4_k(const uint8_t* b, float* y) {  // 144 bytes: d, dmin, scales[12], qs[128]
  float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
    for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
  }
}

void dq_q5_k(const uint8_t* b, float* y) {  // 176 bytes: d, dmin, scales[12], qh[32], qs[128]
  float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, m;
    scale_min_k4(is, scales, &sc, &m);
    float d1 = d * sc, m1 = dmin * m;
    scale_min_k4(is + 1, scales, &sc, &m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
  }
}

void dq_q6_k(const uint8_t* b, float* y) {  // 210 bytes: ql[128], qh[64], scales[16] (int8), d
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = (const int8_t*)(b + 192);
  float d = half_at(b + 208);
  for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; l++) {
      int is = l / 16;
      int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
  }
}
}  // namespace

int dtype_block_elems(DType t) {
  switch (t) {
    case DT_Q8_0:
    case DT_Q4_0: return QK;
    case DT_Q4_K:
    case DT_Q5_K:
    case DT_Q6_K: return QK_K;
    default: return 1;
  }
}

int dtype_block_bytes(DType t) {
  switch (t) {
    case DT_F32: return 4;
    case DT_F16:
    case DT_BF16: return 2;
    case DT_Q8_0: return 34;
    case DT_Q4_0: return 18;
    case DT_Q4_K: return 144;
    case DT_Q5_K: return 176;
    case DT_Q6_K: return 210;
  }
  return 0;
}

const char* dtype_name(DType t) {
  static const char* n[] = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"};
  return (int)t >= 0 && (int)t < 8 ? n[t] : "?";
}

void dequantise_blocks(DType t, const void* blocks, int64_t nblocks, float* out) {
  const uint8_t* b = (const uint8_t*)blocks;
  const int bb = dtype_block_bytes(t), be = dtype_block_elems(t);
  for (int64_t i = 0; i < nblocks; i++, b += bb, out += be) {
    switch (t) {
      case DT_Q8_0: dq_q8_0(b, out); break;
      case DT_Q4_0: dq_q4_0(b, out); break;
      case DT_Q4_K: dq_q4_k(b, out); break;
      case DT_Q5_K: dq_q5_k(b, out); break;
      case DT_Q6_K: dq_q6_k(b, out); break;
      default: *out = load_elem(b, t, 0); break;
    }
  }
}

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
