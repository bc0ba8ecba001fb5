#include "kernels.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "quants.h"
#include "threads.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SOL_AVX2 1
static inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}
static inline __m256 load8_bf16(const uint16_t* p) {
  __m128i h = _mm_loadu_si128((const __m128i*)p);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
static inline __m256 load8_f16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p)); }
#endif

// ---- dot products of an fp32 vector with a stored row ---------------------------------------------------------
static float dot_f32(const float* x, const float* w, int n) {
  int i = 0;
  float s = 0;
#ifdef SOL_AVX2
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(w + i + 8), a1);
  }
  s = hsum256(_mm256_add_ps(a0, a1));
#endif
  for (; i < n; i++) s += x[i] * w[i];
  return s;
}
static float dot_f16(const float* x, const uint16_t* w, int n) {
  int i = 0;
  float s = 0;
#ifdef SOL_AVX2
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load8_f16(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load8_f16(w + i + 8), a1);
  }
  s = hsum256(_mm256_add_ps(a0, a1));
#endif
  for (; i < n; i++) s += x[i] * f16_to_f32(w[i]);
  return s;
}
static float dot_bf16(const float* x, const uint16_t* w, int n) {
  int i = 0;
  float s = 0;
#ifdef SOL_AVX2
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), load8_bf16(w + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), load8_bf16(w + i + 8), a1);
  }
  s = hsum256(_mm256_add_ps(a0, a1));
#endif
  for (; i < n; i++) s += x[i] * bf16_to_f32(w[i]);
  return s;
}

// Weights c0 … c0+n of a row of a block-quantised matrix, dequantised into out[n]. Spans inside a row need not
// start or end on a block boundary: the covering blocks are expanded into a small scratch buffer.
static void dequant_span(float* out, const Mat& W, int row, int c0, int n) {
  const int be = dtype_block_elems(W.dtype);
  const uint8_t* rowp = (const uint8_t*)W.data + (uint64_t)row * dtype_row_bytes(W.dtype, W.cols);
  int b0 = c0 / be, b1 = (c0 + n + be - 1) / be;
  if (c0 % be == 0 && n % be == 0) {
    dequantise_blocks(W.dtype, rowp + (uint64_t)b0 * dtype_block_bytes(W.dtype), b1 - b0, out);
    return;
  }
  thread_local std::vector<float> tmp;
  tmp.resize((size_t)(b1 - b0) * be);
  dequantise_blocks(W.dtype, rowp + (uint64_t)b0 * dtype_block_bytes(W.dtype), b1 - b0, tmp.data());
  std::memcpy(out, tmp.data() + (c0 - b0 * be), sizeof(float) * n);
}

float dot_row(const float* x, const Mat& W, int row, int c0, int n) {
  int64_t off = (int64_t)row * W.cols + c0;
  if (dtype_quantised(W.dtype)) {
    thread_local std::vector<float> w;
    w.resize(n);
    dequant_span(w.data(), W, row, c0, n);
    return dot_f32(x, w.data(), n);
  }
  switch (W.dtype) {
    case DT_F32: return dot_f32(x, (const float*)W.data + off, n);
    case DT_F16: return dot_f16(x, (const uint16_t*)W.data + off, n);
    default: return dot_bf16(x, (const uint16_t*)W.data + off, n);
  }
}

static void convert_span(float* out, const Mat& W, int row, int c0, int n) {
  int64_t off = (int64_t)row * W.cols + c0;
  if (dtype_quantised(W.dtype)) {
    dequant_span(out, W, row, c0, n);
    return;
  }
  if (W.dtype == DT_F32) {
    std::memcpy(out, (const float*)W.data + off, sizeof(float) * n);
    return;
  }
  const uint16_t* p = (const uint16_t*)W.data + off;
  int i = 0;
#ifdef SOL_AVX2
  if (W.dtype == DT_F16)
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load8_f16(p + i));
  else
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load8_bf16(p + i));
#endif
  if (W.dtype == DT_F16)
    for (; i < n; i++) out[i] = f16_to_f32(p[i]);
  else
    for (; i < n; i++) out[i] = bf16_to_f32(p[i]);
}

void mat_row_f32(const Mat& W, int row, float* out) { convert_span(out, W, row, 0, W.cols); }

// Below this many multiply-adds a product runs on the calling thread.
static const int64_t SERIAL_MACS = 1 << 15;

// ---- linear ------------------------------------------------------------------------------------------
#ifdef SOL_AVX2
// 8 weights of a stored row as fp32. The dtype switch is loop-invariant: the compiler unswitches it.
static inline __m256 load8(const void* w, DType t, int i) {
  switch (t) {
    case DT_F32: return _mm256_loadu_ps((const float*)w + i);
    case DT_F16: return load8_f16((const uint16_t*)w + i);
    default: return load8_bf16((const uint16_t*)w + i);
  }
}

// Up to 4 input rows (stride ldx) against one weight row: each 8-wide weight chunk is loaded and converted once and
// used for all rows, so conversion is amortised and the weight row streams from memory once per 4 rows.
static void dot4_avx2(const float* x, int64_t ldx, int nr, const void* w, DType t, int n, float* out) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
  int i = 0;
  if (nr == 4) {
    for (; i + 8 <= n; i += 8) {
      __m256 wv = load8(w, t, i);
      a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x0 + i), a0);
      a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x1 + i), a1);
      a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x2 + i), a2);
      a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x3 + i), a3);
    }
  } else {
    for (; i + 8 <= n; i += 8) {
      __m256 wv = load8(w, t, i);
      a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x0 + i), a0);
      if (nr > 1) a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x1 + i), a1);
      if (nr > 2) a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x2 + i), a2);
    }
  }
  float s[4] = {hsum256(a0), hsum256(a1), hsum256(a2), hsum256(a3)};
  for (; i < n; i++) {
    float wf = load_elem(w, t, i);
    for (int r = 0; r < nr; r++) s[r] += wf * x[r * ldx + i];
  }
  for (int r = 0; r < nr; r++) out[r] = s[r];
}
#endif

#if defined(SOL_AVX2) && defined(__AVX512F__)
#define SOL_AVX512 1
static inline __m512 load16(const void* w, DType t, int i) {
  switch (t) {
    case DT_F32: return _mm512_loadu_ps((const float*)w + i);
    case DT_F16: return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)((const uint16_t*)w + i)));
    default:
      return _mm512_castsi512_ps(
          _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)((const uint16_t*)w + i))), 16));
  }
}

// The same 4-row product with 16-wide registers where the CPU has AVX-512.
static void dot4_avx512(const float* x, int64_t ldx, int nr, const void* w, DType t, int n, float* out) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
  int i = 0;
  if (nr == 4) {
    for (; i + 16 <= n; i += 16) {
      __m512 wv = load16(w, t, i);
      a0 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x0 + i), a0);
      a1 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x1 + i), a1);
      a2 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x2 + i), a2);
      a3 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x3 + i), a3);
    }
  } else {
    for (; i + 16 <= n; i += 16) {
      __m512 wv = load16(w, t, i);
      a0 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x0 + i), a0);
      if (nr > 1) a1 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x1 + i), a1);
      if (nr > 2) a2 = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x2 + i), a2);
    }
  }
  float s[4] = {_mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1), _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a3)};
  for (; i < n; i++) {
    float wf = load_elem(w, t, i);
    for (int r = 0; r < nr; r++) s[r] += wf * x[r * ldx + i];
  }
  for (int r = 0; r < nr; r++) out[r] = s[r];
}
#endif

#ifdef SOL_AVX512
// Two weight rows against 4 input rows: 8 accumulators, so each loaded x chunk feeds two FMAs. When several
// sequences run at once (a sweep) this halves the x loads per multiply-add, the limit of the 1-row form.
static void dot2x4_avx512(const float* x, int64_t ldx, const void* w0, const void* w1, DType t, int n, float* out) {
  __m512 a00 = _mm512_setzero_ps(), a01 = _mm512_setzero_ps(), a02 = _mm512_setzero_ps(), a03 = _mm512_setzero_ps();
  __m512 a10 = _mm512_setzero_ps(), a11 = _mm512_setzero_ps(), a12 = _mm512_setzero_ps(), a13 = _mm512_setzero_ps();
  const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v0 = load16(w0, t, i), v1 = load16(w1, t, i);
    __m512 xv = _mm512_loadu_ps(x0 + i);
    a00 = _mm512_fmadd_ps(v0, xv, a00);
    a10 = _mm512_fmadd_ps(v1, xv, a10);
    xv = _mm512_loadu_ps(x1 + i);
    a01 = _mm512_fmadd_ps(v0, xv, a01);
    a11 = _mm512_fmadd_ps(v1, xv, a11);
    xv = _mm512_loadu_ps(x2 + i);
    a02 = _mm512_fmadd_ps(v0, xv, a02);
    a12 = _mm512_fmadd_ps(v1, xv, a12);
    xv = _mm512_loadu_ps(x3 + i);
    a03 = _mm512_fmadd_ps(v0, xv, a03);
    a13 = _mm512_fmadd_ps(v1, xv, a13);
  }
  float s[8] = {_mm512_reduce_add_ps(a00), _mm512_reduce_add_ps(a01), _mm512_reduce_add_ps(a02),
                _mm512_reduce_add_ps(a03), _mm512_reduce_add_ps(a10), _mm512_reduce_add_ps(a11),
                _mm512_reduce_add_ps(a12), _mm512_reduce_add_ps(a13)};
  for (; i < n; i++) {
    float f0 = load_elem(w0, t, i), f1 = load_elem(w1, t, i);
    for (int r = 0; r < 4; r++) {
      s[r] += f0 * x[r * ldx + i];
      s[4 + r] += f1 * x[r * ldx + i];
    }
  }
  for (int k = 0; k < 8; k++) out[k] = s[k];
}
#endif

static void dot4(const float* x, int64_t ldx, int nr, const Mat& W, int row, float* out) {
  const int n = W.cols;
#if defined(SOL_AVX512)
  dot4_avx512(x, ldx, nr, (const char*)W.data + (int64_t)row * n * dtype_size(W.dtype), W.dtype, n, out);
  return;
#endif
#ifdef SOL_AVX2
  const char* base = (const char*)W.data + (int64_t)row * n * dtype_size(W.dtype);
  dot4_avx2(x, ldx, nr, base, W.dtype, n, out);
#else
  for (int r = 0; r < nr; r++) out[r] = dot_row(x + r * ldx, W, row, 0, n);
#endif
}

// x[R, in] · Wᵀ for a block-quantised W: each weight row is dequantised once into a per-thread fp32 buffer and
// used for every x row, so the quantised matrix is never expanded as a whole.
static void matmul_wt_quantised(float* y, const float* x, int R, const Mat& W) {
  const int out = W.rows, in = W.cols;
  const int OB = 16;
  const int nb = (out + OB - 1) / OB;
  auto body = [&](int b0, int b1, int) {
    std::vector<float> w(in);
    float acc[4];
    for (int b = b0; b < b1; b++) {
      int o0 = b * OB, o1 = o0 + OB < out ? o0 + OB : out;
      for (int o = o0; o < o1; o++) {
        dequant_span(w.data(), W, o, 0, in);
        for (int r0 = 0; r0 < R; r0 += 4) {
          int nr = R - r0 < 4 ? R - r0 : 4;
          const float* xr = x + (int64_t)r0 * in;
#if defined(SOL_AVX512)
          dot4_avx512(xr, in, nr, w.data(), DT_F32, in, acc);
#elif defined(SOL_AVX2)
          dot4_avx2(xr, in, nr, w.data(), DT_F32, in, acc);
#else
          for (int r = 0; r < nr; r++) acc[r] = dot_f32(xr + (int64_t)r * in, w.data(), in);
#endif
          for (int r = 0; r < nr; r++) y[(int64_t)(r0 + r) * out + o] = acc[r];
        }
      }
    }
  };
  if ((int64_t)R * in * out < SERIAL_MACS) body(0, nb, 0);
  else parallel_for(nb, body);
}

void matmul_wt(float* y, const float* x, int R, const Mat& W) {
  if (dtype_quantised(W.dtype)) return matmul_wt_quantised(y, x, R, W);
  const int out = W.rows, in = W.cols;
  // Parallel over blocks of output rows: each weight row is read from memory once and used for every x row.
  const int OB = 16;
  const int nb = (out + OB - 1) / OB;
  auto body = [&](int b0, int b1, int) {
    float acc[4];
    for (int b = b0; b < b1; b++) {
      int o0 = b * OB, o1 = o0 + OB < out ? o0 + OB : out;
      for (int r0 = 0; r0 < R; r0 += 4) {
        int nr = R - r0 < 4 ? R - r0 : 4;
        const float* xr = x + (int64_t)r0 * in;
        int o = o0;
#ifdef SOL_AVX512
        if (nr == 4) {
          const int64_t rb = (int64_t)in * dtype_size(W.dtype);
          float acc8[8];
          for (; o + 2 <= o1; o += 2) {
            const char* w0 = (const char*)W.data + o * rb;
            dot2x4_avx512(xr, in, w0, w0 + rb, W.dtype, in, acc8);
            for (int r = 0; r < 4; r++) {
              y[(int64_t)(r0 + r) * out + o] = acc8[r];
              y[(int64_t)(r0 + r) * out + o + 1] = acc8[4 + r];
            }
          }
        }
#endif
        for (; o < o1; o++) {
          dot4(xr, in, nr, W, o, acc);
          for (int r = 0; r < nr; r++) y[(int64_t)(r0 + r) * out + o] = acc[r];
        }
      }
    }
  };
  // tiny products (factor terms, small models) cost less than waking a thread
  if ((int64_t)R * in * out < SERIAL_MACS) body(0, nb, 0);
  else parallel_for(nb, body);
}

void matmul_w_acc(float* dx, const float* dy, int R, const Mat& W, float scale) {
  const int out = W.rows, in = W.cols;
  const int BC = 256;  // column block: dx[:, block] for all R rows stays in L1/L2
  const int nb = (in + BC - 1) / BC;
  // Four weight rows at a time, converted to fp32 once and reused for every dy row: each load/store of dx then
  // carries four multiply-adds instead of one.
  auto body = [&](int b0, int b1, int) {
    std::vector<float> w4(4 * BC, 0.f);
    for (int b = b0; b < b1; b++) {
      int c0 = b * BC, n = c0 + BC < in ? BC : in - c0;
      for (int o = 0; o < out; o += 4) {
        int no = out - o < 4 ? out - o : 4;
        bool any = false;
        for (int r = 0; r < R && !any; r++)
          for (int k = 0; k < no; k++)
            if (dy[(int64_t)r * out + o + k] != 0.f) { any = true; break; }
        if (!any) continue;
        for (int k = 0; k < 4; k++) {
          if (k < no) convert_span(w4.data() + k * BC, W, o + k, c0, n);
          else std::memset(w4.data() + k * BC, 0, sizeof(float) * BC);
        }
        const float *w0 = w4.data(), *w1 = w0 + BC, *w2 = w1 + BC, *w3 = w2 + BC;
        for (int r = 0; r < R; r++) {
          const float* dyr = dy + (int64_t)r * out + o;
          float a0 = scale * dyr[0], a1 = no > 1 ? scale * dyr[1] : 0.f, a2 = no > 2 ? scale * dyr[2] : 0.f,
                a3 = no > 3 ? scale * dyr[3] : 0.f;
          if (a0 == 0.f && a1 == 0.f && a2 == 0.f && a3 == 0.f) continue;
          float* d = dx + (int64_t)r * in + c0;
          int i = 0;
#if defined(SOL_AVX512)
          __m512 v0 = _mm512_set1_ps(a0), v1 = _mm512_set1_ps(a1), v2 = _mm512_set1_ps(a2), v3 = _mm512_set1_ps(a3);
          for (; i + 16 <= n; i += 16) {
            __m512 acc = _mm512_loadu_ps(d + i);
            acc = _mm512_fmadd_ps(v0, _mm512_loadu_ps(w0 + i), acc);
            acc = _mm512_fmadd_ps(v1, _mm512_loadu_ps(w1 + i), acc);
            acc = _mm512_fmadd_ps(v2, _mm512_loadu_ps(w2 + i), acc);
            acc = _mm512_fmadd_ps(v3, _mm512_loadu_ps(w3 + i), acc);
            _mm512_storeu_ps(d + i, acc);
          }
#elif defined(SOL_AVX2)
          __m256 v0 = _mm256_set1_ps(a0), v1 = _mm256_set1_ps(a1), v2 = _mm256_set1_ps(a2), v3 = _mm256_set1_ps(a3);
          for (; i + 8 <= n; i += 8) {
            __m256 acc = _mm256_loadu_ps(d + i);
            acc = _mm256_fmadd_ps(v0, _mm256_loadu_ps(w0 + i), acc);
            acc = _mm256_fmadd_ps(v1, _mm256_loadu_ps(w1 + i), acc);
            acc = _mm256_fmadd_ps(v2, _mm256_loadu_ps(w2 + i), acc);
            acc = _mm256_fmadd_ps(v3, _mm256_loadu_ps(w3 + i), acc);
            _mm256_storeu_ps(d + i, acc);
          }
#endif
          for (; i < n; i++) d[i] += a0 * w0[i] + a1 * w1[i] + a2 * w2[i] + a3 * w3[i];
        }
      }
    }
  };
  if ((int64_t)R * in * out < SERIAL_MACS) body(0, nb, 0);
  else parallel_for(nb, body);
}

void matmul_tn(float* C, const float* A, const float* B, int T, int a, int b) {
  parallel_for(a, [&](int i0, int i1, int) {
    for (int i = i0; i < i1; i++) {
      float* c = C + (int64_t)i * b;
      std::memset(c, 0, sizeof(float) * b);
      for (int t = 0; t < T; t++) {
        float s = A[(int64_t)t * a + i];
        if (s == 0.f) continue;
        const float* br = B + (int64_t)t * b;
        for (int j = 0; j < b; j++) c[j] += s * br[j];
      }
    }
  });
}

// ---- RMSNorm -----------------------------------------------------------------------------------------
void rmsnorm_forward(float* y, float* rstd, const float* x, const float* w, int T, int D, float eps) {
  for (int t = 0; t < T; t++) {
    const float* xt = x + (int64_t)t * D;
    double ss = 0;
    for (int i = 0; i < D; i++) ss += (double)xt[i] * xt[i];
    float r = (float)(1.0 / std::sqrt(ss / D + eps));
    if (rstd) rstd[t] = r;
    float* yt = y + (int64_t)t * D;
    for (int i = 0; i < D; i++) yt[i] = xt[i] * r * w[i];
  }
}

void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, const float* rstd,
                      int T, int D) {
  for (int t = 0; t < T; t++) {
    const float* xt = x + (int64_t)t * D;
    const float* dyt = dy + (int64_t)t * D;
    float r = rstd[t];
    double dot = 0;  // Σ dy·w·x
    for (int i = 0; i < D; i++) {
      dot += (double)dyt[i] * w[i] * xt[i];
      dw[i] += dyt[i] * xt[i] * r;
    }
    float c = (float)(dot * r * r * r / D);
    float* dxt = dx + (int64_t)t * D;
    for (int i = 0; i < D; i++) dxt[i] += dyt[i] * w[i] * r - xt[i] * c;
  }
}

// ---- RoPE --------------------------------------------------------------------------------------------
void rope_default_inv_freq(float* inv_freq, int hd, double theta) {
  for (int i = 0; i < hd / 2; i++) {
    // As HF computes it: the exponent in float32, then 1 / θ^e rounded to float32.
    float expo = (float)(2 * i) / (float)hd;
    inv_freq[i] = (float)(1.0 / (double)(float)std::pow(theta, (double)expo));
  }
}

void rope_tables(float* cos_t, float* sin_t, int max_pos, int hd, const float* inv_freq, float scale) {
  int half = hd / 2;
  for (int i = 0; i < half; i++) {
    float inv = inv_freq[i];
    for (int p = 0; p < max_pos; p++) {
      float a = inv * (float)p;  // HF: inv_freq @ position_ids in float32
      float c = (float)std::cos((double)a), s = (float)std::sin((double)a);
      cos_t[p * half + i] = scale == 1.f ? c : c * scale;
      sin_t[p * half + i] = scale == 1.f ? s : s * scale;
    }
  }
}

void rope_apply(float* x, int T, int nh, int hd, int pos0, const float* cos_t, const float* sin_t, bool inverse,
                bool interleaved) {
  int half = hd / 2;
  // frequency i rotates the pair (v[i], v[i + half]) in HF's layout, (v[2i], v[2i + 1]) in Meta's
  const int stride = interleaved ? 2 : 1, partner = interleaved ? 1 : half;
  for (int t = 0; t < T; t++) {
    const float* c = cos_t + (int64_t)(pos0 + t) * half;
    const float* s = sin_t + (int64_t)(pos0 + t) * half;
    for (int h = 0; h < nh; h++) {
      float* v = x + (int64_t)t * nh * hd + h * hd;
      for (int i = 0; i < half; i++) {
        float* pa = v + i * stride;
        float a = pa[0], b = pa[partner], sn = inverse ? -s[i] : s[i];
        pa[0] = a * c[i] - b * sn;
        pa[partner] = b * c[i] + a * sn;
      }
    }
  }
}

// ---- SwiGLU ------------------------------------------------------------------------------------------
void swiglu_forward(float* m, const float* g, const float* u, int n) {
  for (int i = 0; i < n; i++) {
    float sg = 1.f / (1.f + std::exp(-g[i]));
    m[i] = g[i] * sg * u[i];
  }
}

void swiglu_backward(float* dg, float* du, const float* dm, const float* g, const float* u, int n) {
  for (int i = 0; i < n; i++) {
    float sg = 1.f / (1.f + std::exp(-g[i]));
    float silu = g[i] * sg;
    du[i] = dm[i] * silu;
    dg[i] = dm[i] * u[i] * sg * (1.f + g[i] * (1.f - sg));
  }
}

// ---- attention ---------------------------------------------------------------------------------------
void attention_forward(float* out, float* probs, const float* q, const float* k, const float* v, int M, int pos0,
                       int H, int KVH, int hd, int window) {
  const int Tk = pos0 + M, group = H / KVH;
  const float scale = 1.f / std::sqrt((float)hd);
  parallel_for(H * M, [&](int j0, int j1, int) {
    std::vector<float> s(Tk);
    for (int j = j0; j < j1; j++) {
      int h = j / M, m = j % M, g = h / group, n = pos0 + m + 1;
      int u0 = window > 0 && n > window ? n - window : 0;  // first visible key: (pos0 + m) − u0 = window − 1
      const float* qh = q + (int64_t)m * H * hd + h * hd;
      float mx = -INFINITY;
      for (int u = u0; u < n; u++) {
        s[u] = dot_f32(qh, k + (int64_t)u * KVH * hd + g * hd, hd) * scale;
        if (s[u] > mx) mx = s[u];
      }
      double z = 0;
      for (int u = u0; u < n; u++) {
        s[u] = std::exp(s[u] - mx);
        z += s[u];
      }
      float iz = (float)(1.0 / z);
      float* o = out + (int64_t)m * H * hd + h * hd;
      std::memset(o, 0, sizeof(float) * hd);
      for (int u = u0; u < n; u++) {
        float p = s[u] * iz;
        s[u] = p;
        const float* vu = v + (int64_t)u * KVH * hd + g * hd;
        for (int i = 0; i < hd; i++) o[i] += p * vu[i];
      }
      if (probs) {
        float* pr = probs + ((int64_t)h * M + m) * Tk;
        for (int u = 0; u < Tk; u++) pr[u] = u >= u0 && u < n ? s[u] : 0.f;
      }
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* probs, const float* q,
                        const float* k, const float* v, int T, int H, int KVH, int hd, int window) {
  const int group = H / KVH;
  const float scale = 1.f / std::sqrt((float)hd);
  std::memset(dq, 0, sizeof(float) * (int64_t)T * H * hd);
  std::memset(dk, 0, sizeof(float) * (int64_t)T * KVH * hd);
  std::memset(dv, 0, sizeof(float) * (int64_t)T * KVH * hd);
  // Parallel over kv heads: each owns its slice of dk/dv; the query heads of its group write disjoint dq slices.
  parallel_for(KVH, [&](int g0, int g1, int) {
    std::vector<float> dp(T);
    for (int g = g0; g < g1; g++) {
      for (int h = g * group; h < (g + 1) * group; h++) {
        for (int t = 0; t < T; t++) {
          const float* pr = probs + ((int64_t)h * T + t) * T;
          const float* dot = dout + (int64_t)t * H * hd + h * hd;
          const int u0 = window > 0 && t + 1 > window ? t + 1 - window : 0;
          // dp[u] = dout·v[u];  dv[u] += p[u]·dout
          double sum = 0;
          for (int u = u0; u <= t; u++) {
            const float* vu = v + (int64_t)u * KVH * hd + g * hd;
            dp[u] = dot_f32(dot, vu, hd);
            sum += (double)dp[u] * pr[u];
            float* dvu = dv + (int64_t)u * KVH * hd + g * hd;
            for (int i = 0; i < hd; i++) dvu[i] += pr[u] * dot[i];
          }
          // softmax backward: ds[u] = p[u]·(dp[u] − Σ p·dp); scores = q·k·scale
          const float* qt = q + (int64_t)t * H * hd + h * hd;
          float* dqt = dq + (int64_t)t * H * hd + h * hd;
          for (int u = u0; u <= t; u++) {
            float ds = pr[u] * (dp[u] - (float)sum) * scale;
            if (ds == 0.f) continue;
            const float* ku = k + (int64_t)u * KVH * hd + g * hd;
            float* dku = dk + (int64_t)u * KVH * hd + g * hd;
            for (int i = 0; i < hd; i++) {
              dqt[i] += ds * ku[i];
              dku[i] += ds * qt[i];
            }
          }
        }
      }
    }
  });
}

double logsumexp(const float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; i++)
    if (x[i] > mx) mx = x[i];
  double z = 0;
  for (int i = 0; i < n; i++) z += std::exp((double)x[i] - mx);
  return mx + std::log(z);
}
