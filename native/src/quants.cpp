// Dequantisation of ggml's block types (layouts in quants.h, as ggml-common.h / ggml-quants.c define them) and the
// Q8_0 quantiser used when exporting to GGUF.
#include "quants.h"

#include <cmath>
#include <cstring>
#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {
const int QK = 32, QK_K = 256;

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);  // blocks are only 2-byte aligned in the file: read fields byte-wise
#ifdef __F16C__
  return _cvtsh_ss(h);
#else
  return f16_to_f32(h);
#endif
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
#ifdef __AVX2__
  const __m128i raw = _mm_loadu_si128((const __m128i*)qs), m4 = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_and_si128(raw, m4), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m4);
  const __m256 vd = _mm256_set1_ps(d), v8 = _mm256_set1_ps(8.f);
  for (int k = 0; k < 2; k++) {  // x = d·(q − 8), rounded as ggml does (q − 8 is exact)
    _mm256_storeu_ps(y + 8 * k, _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8 * k))), v8), vd));
    _mm256_storeu_ps(y + 16 + 8 * k, _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8 * k))), v8), vd));
  }
  return;
#endif
  int8_t q[QK];
  for (int j = 0; j < QK / 2; j++) {
    q[j] = (int8_t)((qs[j] & 0x0F) - 8);
    q[j + QK / 2] = (int8_t)((qs[j] >> 4) - 8);
  }
  for (int j = 0; j < QK; j++) y[j] = d * (float)q[j];
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
  // unpack the 6-bit quants (−32‥31) first, then scale by sub-block of 16: both loops vectorise
  int8_t q[QK_K];
#ifdef __AVX2__
  const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3), v32 = _mm256_set1_epi8(32);
  for (int n = 0; n < 2; n++, ql += 64, qh += 32) {
    const __m256i a = _mm256_loadu_si256((const __m256i*)ql), c = _mm256_loadu_si256((const __m256i*)(ql + 32));
    const __m256i h = _mm256_loadu_si256((const __m256i*)qh);
    // byte-wise: (low or high nibble) | (2 high bits << 4), minus 32
    auto hbits = [&](int shift) { return _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, shift), m3), 4); };
    const __m256i nib_a_hi = _mm256_and_si256(_mm256_srli_epi16(a, 4), m4), nib_c_hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), m4);
    int8_t* qn = q + 128 * n;
    _mm256_storeu_si256((__m256i*)qn, _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(a, m4), hbits(0)), v32));
    _mm256_storeu_si256((__m256i*)(qn + 32), _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(c, m4), hbits(2)), v32));
    _mm256_storeu_si256((__m256i*)(qn + 64), _mm256_sub_epi8(_mm256_or_si256(nib_a_hi, hbits(4)), v32));
    _mm256_storeu_si256((__m256i*)(qn + 96), _mm256_sub_epi8(_mm256_or_si256(nib_c_hi, hbits(6)), v32));
  }
  for (int j = 0; j < QK_K / 16; j++) {
    const __m256 vs = _mm256_set1_ps(d * sc[j]);
    const __m128i b16 = _mm_loadu_si128((const __m128i*)(q + 16 * j));
    _mm256_storeu_ps(y + 16 * j, _mm256_mul_ps(vs, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b16))));
    _mm256_storeu_ps(y + 16 * j + 8, _mm256_mul_ps(vs, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b16, 8)))));
  }
  return;
#endif
  for (int n = 0; n < 2; n++, ql += 64, qh += 32) {
    int8_t* qn = q + 128 * n;
    for (int l = 0; l < 32; l++) {
      qn[l] = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      qn[l + 32] = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      qn[l + 64] = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      qn[l + 96] = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
    }
  }
  for (int j = 0; j < QK_K / 16; j++) {
    const float s = d * sc[j];
    for (int i = 0; i < 16; i++) y[16 * j + i] = s * (float)q[16 * j + i];
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
