// Kernel test driver: every kernel path this CPU (or qemu) runs against float64 sums of the decoded weights and
// against the scalar path, on random shapes. Prints one PASS/FAIL line per check and exits 1 on any failure.
// Built by scripts/test-kernels.mjs natively and for arm64 (g++-aarch64-linux-gnu, run under qemu-aarch64-static):
//   g++ -std=c++17 -O2 -Isrc test/kernel_test.cpp src/kernel_paths.cpp src/kernels_*.cpp src/kernels.cpp
//       src/quants.cpp src/quants_iq.cpp src/threads.cpp -pthread
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../src/kernel_paths.h"
#include "../src/kernels.h"
#include "../src/quants.h"
#include "../src/quants_iq.h"
#include "../src/threads.h"
#include "random_inputs.h"

static int failures = 0, passes = 0;
static void report(bool ok, const std::string& what, double err) {
  std::printf("%s %s (worst %.3g)\n", ok ? "PASS" : "FAIL", what.c_str(), err);
  (ok ? passes : failures)++;
}

// random weights stored as t (element types), and their values
static void store(DType t, int n, std::vector<uint8_t>* bytes, std::vector<double>* vals) {
  bytes->assign((size_t)n * dtype_size(t), 0);
  vals->resize(n);
  for (int i = 0; i < n; i++) {
    float v = uni();
    if (t == DT_F32) {
      std::memcpy(bytes->data() + 4 * i, &v, 4);
      (*vals)[i] = v;
    } else {
      uint16_t h = t == DT_F16 ? f32_to_f16(v) : f32_to_bf16(v);
      std::memcpy(bytes->data() + 2 * i, &h, 2);
      (*vals)[i] = t == DT_F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
  }
}


static const char* tname(DType t) { return dtype_name(t); }

// every block type
static const DType QUANTISED[] = {DT_Q8_0, DT_Q4_0, DT_Q4_K, DT_Q5_K,   DT_Q6_K,   DT_Q4_1,  DT_Q5_0,
                                  DT_Q5_1, DT_Q2_K, DT_Q3_K, DT_IQ4_NL, DT_IQ4_XS, DT_MXFP4, DT_TQ1_0, DT_TQ2_0,
                                  DT_IQ3_S, DT_IQ3_XXS, DT_IQ2_XXS, DT_IQ2_XS, DT_IQ2_S, DT_IQ1_S, DT_IQ1_M};

static void test_path(const std::string& path) {
  std::string why = kernels_set(path);
  if (!why.empty()) {
    report(false, path + ": " + why, 0);
    return;
  }
  const KernelTable* K = kern();
  const KernelTable* S = kernel_table_scalar();
  const DType elem[3] = {DT_F32, DT_F16, DT_BF16};
  // dot products and conversions of one row
  for (DType t : elem) {
    double worst = 0, worst_conv = 0;
    for (int trial = 0; trial < 40; trial++) {
      int n = irand(1, 1100);
      std::vector<uint8_t> w;
      std::vector<double> wv;
      store(t, n, &w, &wv);
      std::vector<float> x(n);
      for (auto& v : x) v = uni();
      double want = 0, scale = 0;
      for (int i = 0; i < n; i++) want += x[i] * wv[i], scale += std::fabs(x[i] * wv[i]);
      float got = t == DT_F32   ? K->dot_f32(x.data(), (const float*)w.data(), n)
                  : t == DT_F16 ? K->dot_f16(x.data(), (const uint16_t*)w.data(), n)
                                : K->dot_bf16(x.data(), (const uint16_t*)w.data(), n);
      worst = std::fmax(worst, std::fabs(got - want) / (scale + 1e-30));
      if (t != DT_F32) {
        std::vector<float> c(n);
        (t == DT_F16 ? K->f16_to_f32_row : K->bf16_to_f32_row)(c.data(), (const uint16_t*)w.data(), n);
        for (int i = 0; i < n; i++) worst_conv = std::fmax(worst_conv, c[i] == (float)wv[i] ? 0 : 1);
      }
      // 4 rows at once and 2 weight rows × 4 input rows
      int nr = irand(1, 4);
      std::vector<float> x4((size_t)4 * n);
      for (auto& v : x4) v = uni();
      std::vector<uint8_t> w1;
      std::vector<double> wv1;
      store(t, n, &w1, &wv1);
      float o4[4], o8[8];
      K->dot4(x4.data(), n, nr, w.data(), t, n, o4);
      K->dot2x4(x4.data(), n, w.data(), w1.data(), t, n, o8);
      for (int r = 0; r < 4; r++) {
        double a = 0, b = 0, sa = 0, sb = 0;
        for (int i = 0; i < n; i++) {
          a += x4[(size_t)r * n + i] * wv[i], sa += std::fabs(x4[(size_t)r * n + i] * wv[i]);
          b += x4[(size_t)r * n + i] * wv1[i], sb += std::fabs(x4[(size_t)r * n + i] * wv1[i]);
        }
        if (r < nr) worst = std::fmax(worst, std::fabs(o4[r] - a) / (sa + 1e-30));
        worst = std::fmax(worst, std::fabs(o8[r] - a) / (sa + 1e-30));
        worst = std::fmax(worst, std::fabs(o8[4 + r] - b) / (sb + 1e-30));
      }
    }
    report(worst < 1e-5, path + " dot/dot4/dot2x4 " + tname(t) + " vs float64", worst);
    if (t != DT_F32) report(worst_conv == 0, path + " " + tname(t) + " → f32 bit-equal to the format", worst_conv);
  }
  {  // axpy4
    double worst = 0;
    for (int trial = 0; trial < 40; trial++) {
      int n = irand(1, 700);
      std::vector<float> d(n), w((size_t)4 * n);
      for (auto& v : d) v = uni();
      for (auto& v : w) v = uni();
      float a[4] = {uni(), uni(), uni(), uni()};
      std::vector<double> want(d.begin(), d.end());
      std::vector<double> scale(n);
      for (int i = 0; i < n; i++) {
        scale[i] = std::fabs(d[i]);
        for (int k = 0; k < 4; k++) want[i] += (double)a[k] * w[(size_t)k * n + i], scale[i] += std::fabs(a[k] * w[(size_t)k * n + i]);
      }
      K->axpy4(d.data(), w.data(), w.data() + n, w.data() + 2 * n, w.data() + 3 * n, a[0], a[1], a[2], a[3], n);
      for (int i = 0; i < n; i++) worst = std::fmax(worst, std::fabs(d[i] - want[i]) / (scale[i] + 1e-30));
    }
    report(worst < 1e-6, path + " axpy4 vs float64", worst);
  }
  // the bandwidth probe's sum (its loads and prefetches must cover every element once, tails included)
  {
    double worst = 0;
    for (int trial = 0; trial < 20; trial++) {
      int n = irand(1, 5000);
      std::vector<float> v(n);
      double want = 0, scale = 0;
      for (auto& x : v) x = uni(), want += x, scale += std::fabs(x);
      worst = std::fmax(worst, std::fabs(K->stream_sum(v.data(), n) - want) / (scale + 1e-30));
    }
    report(worst < 1e-6, path + " stream_sum vs float64", worst);
  }
  // dequantisation: the same fp32 formula on every path, so bit-equal to the scalar path (else within 1e-6 rel)
  for (DType t : QUANTISED) {
    int nb = irand(1, 9);
    std::vector<uint8_t> b = random_blocks(t, nb);
    int n = nb * dtype_block_elems(t);
    std::vector<float> a(n), s(n);
    K->dequantise_blocks(t, b.data(), nb, a.data());
    S->dequantise_blocks(t, b.data(), nb, s.data());
    double worst = 0;
    bool equal = std::memcmp(a.data(), s.data(), sizeof(float) * n) == 0;
    for (int i = 0; i < n; i++) worst = std::fmax(worst, std::fabs(a[i] - s[i]) / (std::fabs(s[i]) + 1e-30));
    // the fallback and low-bit types have no vectorised decoder of their own: the same source on every path, so
    // the same bits are required (test/engine-gguf-lowbit.test.ts holds the x86 paths to ggml's reference itself)
    const bool must_equal = t >= DT_Q4_1;
    report(equal || (!must_equal && worst <= 1e-6), path + " dequantise " + tname(t) + (equal ? " bit-equal to scalar" : " vs scalar"), worst);
  }
  // the fused products of block-quantised rows (dot_blocks: generation's 1–4 columns read the blocks in place)
  // against float64 sums of the scalar path's dequantised weights: random valid blocks, then adversarial ones —
  // every quant at its extreme (all bits set, all clear) with the largest scales and mins, and sub-blocks whose
  // weights are offset + scale·q with the offset cancelling most of the product
  for (DType t : QUANTISED) {
    double worst = 0;
    bool fused = true;
    for (int trial = 0; trial < 24 && fused; trial++) {
      const int nb = irand(1, 11), n = nb * dtype_block_elems(t), bb = dtype_block_bytes(t);
      std::vector<uint8_t> b = random_blocks(t, nb);
      if (trial >= 16) {  // adversarial
        const uint8_t fill = trial % 2 ? 0xFF : 0x00;
        std::vector<uint8_t> keep = b;
        std::memset(b.data(), fill, b.size());
        std::vector<uint8_t> scales = random_blocks(t, nb);  // then restore the fp16 scale fields only
        for (int k = 0; k < nb; k++) {
          uint8_t* p = b.data() + (size_t)k * bb;
          const uint8_t* r = keep.data() + (size_t)k * bb;
          auto half = [&](int off) { std::memcpy(p + off, r + off, 2); };
          if (t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q5_0 || t == DT_IQ4_NL || t == DT_IQ4_XS) half(0);
          if (t == DT_Q4_K || t == DT_Q5_K || t == DT_Q4_1 || t == DT_Q5_1) half(0), half(2);
          if (t == DT_Q6_K) half(208);
          if (t == DT_Q2_K) half(80), half(82);
          if (t == DT_Q3_K) half(108);
          if (dtype_iq_grid(t) && t != DT_IQ1_M) half(0);
          if (t == DT_MXFP4) p[0] = r[0];  // the E8M0 exponent
          if (t == DT_TQ1_0) half(52);
          if (t == DT_TQ2_0) half(64);
          if (trial >= 20) {  // random quants, fp16 scales large (±60000) so products are far from 1
            std::memcpy(p, r, bb);
            uint16_t big = f32_to_f16(trial % 2 ? 60000.f : -0.5f);
            if (t == DT_Q6_K) std::memcpy(p + 208, &big, 2);
            else if (t == DT_Q2_K) std::memcpy(p + 80, &big, 2);
            else if (t == DT_Q3_K) std::memcpy(p + 108, &big, 2);
            else if (t != DT_MXFP4 && t != DT_TQ1_0 && t != DT_TQ2_0 && t != DT_IQ1_M) std::memcpy(p, &big, 2);
          }
        }
      }
      std::vector<float> w(n);
      S->dequantise_blocks(t, b.data(), nb, w.data());
      const int nr = irand(1, 4);
      std::vector<std::vector<float>> x(nr, std::vector<float>(n)), xs(nr, std::vector<float>(n / 16));
      const float *xr[4], *xsr[4];
      for (int r = 0; r < nr; r++) {
        for (auto& v : x[r]) v = uni();
        for (int k = 0; k < n / 16; k++) {
          float s = 0;
          for (int j = 0; j < 16; j++) s += x[r][16 * k + j];
          xs[r][k] = s;
        }
        xr[r] = x[r].data(), xsr[r] = xs[r].data();
      }
      float out[4] = {0, 0, 0, 0};
      fused = K->dot_blocks(t, b.data(), nb, xr, xsr, nr, trial % 3 ? 0 : 4 * bb, out);
      if (!fused) break;
      for (int r = 0; r < nr; r++) {
        double want = 0, scale = 0;
        for (int i = 0; i < n; i++) want += (double)x[r][i] * w[i], scale += std::fabs((double)x[r][i] * w[i]);
        // a block whose weights are all zero: the sum must be exactly 0 up to the rounding of its terms' sizes
        const double err = std::fabs(out[r] - want) / (scale + 1e-30);
        worst = std::fmax(worst, scale == 0 ? (out[r] == 0 ? 0 : 1) : err);
        // a finite product must come out finite (fmax above would pass over a NaN), an infinite or NaN one not finite
        if (std::isfinite(want) != std::isfinite(out[r])) worst = std::fmax(worst, 1.0);
      }
    }
    // every block type has a fused product
    report(fused && worst < 1e-5, path + " fused dot_blocks " + tname(t) + " (1–4 x rows) vs float64", worst);
  }
  // the engine's products (kernels.cpp, threaded) on this path against float64
  std::vector<DType> product_types = {DT_F32, DT_F16, DT_BF16};
  for (DType t : QUANTISED) product_types.push_back(t);
  for (DType t : product_types) {
    double worst = 0;
    for (int trial = 0; trial < 7; trial++) {
      // trials 3–6 are large enough for the register-tile kernels (3 × 8 forward, 6 × 64 backward) where the path
      // has them: many rows, 5–16 input rows, columns past a multiple of 64
      // (trial 5: one row against weight rows longer than 8 KiB, which also takes the 3-row kernel; trial 6: enough
      // weight rows for the backward to cut them into 2–4 row parts, kernels.cpp w_acc_parts)
      const bool big = trial >= 3, long_rows = trial == 5 && !dtype_quantised(t);
      int rows = trial == 6 ? 512 * irand(2, 4) + irand(0, 100) : big ? irand(64, 200) : irand(1, 70),
          R = long_rows ? 1 : big ? irand(5, 16) : irand(1, 9);
      int cols = dtype_quantised(t) ? dtype_block_elems(t) * irand(1, 3)
                 : long_rows          ? 4096 + irand(64, 300)
                 : big                ? 64 * irand(1, 5) + irand(0, 40)
                                      : irand(1, 600);
      std::vector<uint8_t> w;
      std::vector<double> wv((size_t)rows * cols);
      if (dtype_quantised(t)) {
        w = random_blocks(t, rows * cols / dtype_block_elems(t));
        std::vector<float> dq((size_t)rows * cols);
        S->dequantise_blocks(t, w.data(), rows * cols / dtype_block_elems(t), dq.data());
        for (size_t i = 0; i < dq.size(); i++) wv[i] = dq[i];
      } else {
        store(t, rows * cols, &w, &wv);
      }
      Mat W;
      W.data = w.data(), W.dtype = t, W.rows = rows, W.cols = cols;
      std::vector<float> x((size_t)R * cols), dy((size_t)R * rows), y((size_t)R * rows), dx((size_t)R * cols);
      for (auto& v : x) v = uni();
      for (auto& v : dy) v = uni();
      for (auto& v : dx) v = uni();
      const std::vector<float> dx0 = dx;
      const float scale = trial % 2 ? 1.f : -0.75f;
      matmul_wt(y.data(), x.data(), R, W);
      matmul_w_acc(dx.data(), dy.data(), R, W, scale);
      for (int r = 0; r < R; r++) {
        for (int o = 0; o < rows; o++) {
          double a = 0, sa = 0;
          for (int c = 0; c < cols; c++) a += x[(size_t)r * cols + c] * wv[(size_t)o * cols + c], sa += std::fabs(x[(size_t)r * cols + c] * wv[(size_t)o * cols + c]);
          worst = std::fmax(worst, std::fabs(y[(size_t)r * rows + o] - a) / (sa + 1e-30));
        }
        for (int c = 0; c < cols; c++) {
          double a = dx0[(size_t)r * cols + c], sa = std::fabs(a);
          for (int o = 0; o < rows; o++) a += (double)scale * dy[(size_t)r * rows + o] * wv[(size_t)o * cols + c], sa += std::fabs(scale * dy[(size_t)r * rows + o] * wv[(size_t)o * cols + c]);
          worst = std::fmax(worst, std::fabs(dx[(size_t)r * cols + c] - a) / (sa + 1e-30));
        }
      }
    }
    report(worst < 1e-5, path + " matmul_wt / matmul_w_acc " + tname(t) + " vs float64", worst);
  }
  {  // the gradient norms' Gram sums: bit for bit the scalar path's (the contract: the same partial sums on every path),
     // near long double; T on both sides of the tiled form's limit, row lengths with and without a tail of 8
    bool same = true;
    double worst = 0;
    for (int trial = 0; trial < 24; trial++) {
      const int T = trial < 20 ? irand(1, 20) : irand(60, 70), n = irand(1, 1300), ld = n + irand(0, 9);
      std::vector<float> M((size_t)T * ld);
      for (auto& v : M) v = uni() * std::ldexp(1.f, irand(-8, 8));
      std::vector<double> got((size_t)T * T, -1.0), ref((size_t)T * T, -1.0);
      K->gram_f64(M.data(), ld, T, n, got.data());
      S->gram_f64(M.data(), ld, T, n, ref.data());
      for (int a = 0; a < T; a++)
        for (int b = 0; b <= a; b++) {
          same = same && got[(size_t)a * T + b] == ref[(size_t)a * T + b];
          long double want = 0, scale = 0;
          for (int i = 0; i < n; i++) {
            const long double p = (long double)M[(size_t)a * ld + i] * M[(size_t)b * ld + i];
            want += p, scale += std::fabs(p);
          }
          worst = std::max(worst, (double)(std::fabs(got[(size_t)a * T + b] - want) / (scale + 1e-300)));
        }
    }
    report(same && worst < 1e-14, path + " gram_f64 bit-equal to the scalar path, near long double", worst);
  }
  {  // the finiteness scan: the largest |x| as bits (exact), and ±inf / NaN anywhere seen
    bool ok = true;
    for (int trial = 0; trial < 60 && ok; trial++) {
      const int n = irand(0, 700);
      std::vector<float> x(n);
      for (auto& v : x) v = uni() * std::ldexp(1.f, irand(-30, 30));
      float want = 0.f;
      for (float v : x) want = std::max(want, std::fabs(v));
      uint32_t got = K->max_abs_bits(x.data(), n);
      float gotf;
      std::memcpy(&gotf, &got, 4);
      ok = ok && got < 0x7f800000u && gotf == want;
      if (n > 0) {  // one bad value at a random place: inf, −inf or NaN
        const float bad[3] = {INFINITY, -INFINITY, NAN};
        x[irand(0, n - 1)] = bad[trial % 3];
        ok = ok && K->max_abs_bits(x.data(), n) >= 0x7f800000u;
      }
    }
    report(ok, path + " max_abs_bits = max |x| exactly, ±inf and NaN flagged", 0);
  }
  {  // the softmax row: max_f32 exact; exp within 1 ulp of exp in long double; the 8-lane sum; the probabilities
    double worst_ulp = 0, worst_sum = 0, worst_p = 0;
    bool max_ok = true, edge_ok = true;
    for (int trial = 0; trial < 400; trial++) {
      // one value alone: exp_sum of one entry is its e, unrounded by any sum
      const float x = -uni() * uni() * 760.f - (trial % 7 == 0 ? 0.f : 1e-3f), mx = trial % 2 ? 0.f : uni();
      const double y = (double)x - mx, e = K->exp_sum(&x, 1, mx);
      const long double want = std::exp((long double)y);
      if (y >= -707) {
        const double ulp = std::ldexp(1.0, std::ilogb((double)want) - 52);
        worst_ulp = std::max(worst_ulp, (double)std::fabs((long double)e - want) / ulp);
      } else {
        edge_ok = edge_ok && e == 0.0;
      }
    }
    for (int trial = 0; trial < 40; trial++) {
      const int n = irand(1, 3000);
      std::vector<float> x(n);
      for (auto& v : x) v = uni() * 20.f;
      float mx = -INFINITY;
      for (float v : x) mx = std::max(mx, v);
      max_ok = max_ok && K->max_f32(x.data(), n) == mx;
      long double z = 0;
      for (float v : x) z += std::exp((long double)v - mx);
      const double got = K->exp_sum(x.data(), n, mx);
      worst_sum = std::max(worst_sum, (double)(std::fabs(got - z) / z));
      std::vector<float> pr(n);
      K->exp_scale(pr.data(), x.data(), n, mx, 1.0 / got);
      for (int i = 0; i < n; i++) {
        const double want = (double)(std::exp((long double)x[i] - mx) / z);
        worst_p = std::max(worst_p, std::fabs(pr[i] - want) / std::max(want, 1e-30));
      }
    }
    {  // NaN is skipped by the maximum (as std::max skips it) and makes the sum NaN; −inf entries are e = 0
      std::vector<float> x = {1.f, NAN, 3.f, -INFINITY, 2.f, 0.5f, -1.f, 4.f, 0.f, 2.5f};
      max_ok = max_ok && K->max_f32(x.data(), (int)x.size()) == 4.f;
      edge_ok = edge_ok && std::isnan(K->exp_sum(x.data(), (int)x.size(), 4.f));
      x[1] = -INFINITY;
      const double z = K->exp_sum(x.data(), (int)x.size(), 4.f);
      long double want = 0;
      for (float v : x) want += v == -INFINITY ? 0.0L : std::exp((long double)v - 4.f);
      edge_ok = edge_ok && std::fabs(z - want) / want < 1e-15;
    }
    report(worst_ulp <= 1.0 && edge_ok, path + " exp_sum: e^y within 1 ulp of exp in long double, 0 below −707, NaN kept", worst_ulp);
    report(max_ok && worst_sum < 1e-14 && worst_p < 1.2e-7, path + " max_f32 exact; exp_sum / exp_scale vs long double (sum, probabilities)", std::max(worst_sum, worst_p));
  }
  {  // the gated activations' element loops vs float64; a value's result whatever its position in the call; in place
    double worst_s = 0, worst_sb = 0, worst_g = 0;
    bool placed = true, nan_ok = true;
    for (int trial = 0; trial < 60; trial++) {
      const int n = irand(1, 700);
      const float span = trial % 3 == 0 ? 60.f : trial % 3 == 1 ? 8.f : 1.f;
      std::vector<float> g(n), u(n), dm(n);
      for (auto& v : g) v = uni() * span;
      for (auto& v : u) v = uni();
      for (auto& v : dm) v = uni();
      std::vector<float> m(n), dg(n), du(n), gm(n), gdg(n), gdu(n);
      K->swiglu_fwd(m.data(), g.data(), u.data(), n);
      K->swiglu_bwd(dg.data(), du.data(), dm.data(), g.data(), u.data(), n);
      K->geglu_fwd(gm.data(), g.data(), u.data(), n);
      K->geglu_bwd(gdg.data(), gdu.data(), dm.data(), g.data(), u.data(), n);
      for (int i = 0; i < n; i++) {
        const double x = g[i], s = 1 / (1 + std::exp(-x)), uu = u[i], d = dm[i];
        const double ulp = std::ldexp(1.0, std::ilogb(std::fabs(x * s * uu) + 1e-300) - 23);
        worst_s = std::max(worst_s, std::fabs(m[i] - x * s * uu) / ulp);  // in ulps of the result
        const double wdg = d * uu * s * (1 + x * (1 - s)), wdu = d * x * s;
        // scaled by the terms' sizes: 1 + x·(1 − σ) cancels near x = −1.28
        const double sd = std::fabs(d * uu) * (1 + std::fabs(x)) + 1e-30, su = std::fabs(d * x) + 1e-30;
        worst_sb = std::max(worst_sb, std::max(std::fabs(dg[i] - wdg) / sd, std::fabs(du[i] - wdu) / su));
        const double th = std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)), gelu = 0.5 * x * (1 + th);
        const double dgelu = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * 0.7978845608028654 * (1 + 3 * 0.044715 * x * x);
        const double sg = std::fabs(x) + 1e-30, sgd = std::fabs(d * uu) * (1 + x * x) + 1e-30;
        worst_g = std::max(worst_g, std::fabs(gm[i] - gelu * uu) / (sg * std::fabs(uu) + 1e-30));
        worst_g = std::max(worst_g, std::fabs(gdg[i] - d * uu * dgelu) / sgd);
        worst_g = std::max(worst_g, std::fabs(gdu[i] - d * gelu) / (sg * std::fabs(d) + 1e-30));
      }
      // from a random offset: the same bits; the backward in place (dg = g, du = u) too
      const int o = irand(0, n - 1);
      std::vector<float> m2(n), gi(g), ui(u);
      K->swiglu_fwd(m2.data() + o, g.data() + o, u.data() + o, n - o);
      placed = placed && std::memcmp(m2.data() + o, m.data() + o, 4 * (n - o)) == 0;
      K->swiglu_bwd(gi.data() + o, ui.data() + o, dm.data() + o, gi.data() + o, ui.data() + o, n - o);
      placed = placed && std::memcmp(gi.data() + o, dg.data() + o, 4 * (n - o)) == 0 && std::memcmp(ui.data() + o, du.data() + o, 4 * (n - o)) == 0;
      K->geglu_fwd(m2.data() + o, g.data() + o, u.data() + o, n - o);
      placed = placed && std::memcmp(m2.data() + o, gm.data() + o, 4 * (n - o)) == 0;
      gi = g, ui = u;
      K->geglu_bwd(gi.data() + o, ui.data() + o, dm.data() + o, gi.data() + o, ui.data() + o, n - o);
      placed = placed && std::memcmp(gi.data() + o, gdg.data() + o, 4 * (n - o)) == 0 && std::memcmp(ui.data() + o, gdu.data() + o, 4 * (n - o)) == 0;
    }
    {  // the far ends (σ below 2e−38 or 1) and NaN
      const float g[4] = {-200.f, 200.f, NAN, -90.f}, u[4] = {1.f, 1.f, 1.f, 1.f};
      float m[4];
      K->swiglu_fwd(m, g, u, 4);
      nan_ok = std::fabs(m[0]) < 1e-35f && m[1] == 200.f && std::isnan(m[2]) && std::fabs(m[3]) < 1e-35f;
    }
    // σ within 2 ulp, then two roundings (g·σ, ·u)
    report(worst_s <= 4 && nan_ok, path + " swiglu_fwd: g·σ(g)·u within 4 ulp of float64, far ends, NaN kept", worst_s);
    report(worst_sb < 1e-6 && worst_g < 1e-6, path + " swiglu_bwd, geglu_fwd / _bwd vs float64 (relative to the terms' sizes)", std::max(worst_sb, worst_g));
    report(placed, path + " swiglu / geglu from any offset, and in place, the same bits", 0);
  }
  {  // axpy_f32: d + a·x (fused where the path has FMA) within one rounding of each of its terms
    double worst = 0;
    for (int trial = 0; trial < 40; trial++) {
      const int n = irand(0, 300);
      std::vector<float> d(n), x(n);
      for (auto& v : d) v = uni();
      for (auto& v : x) v = uni();
      const float a = uni();
      std::vector<float> d0(d);
      K->axpy_f32(d.data(), a, x.data(), n);
      for (int i = 0; i < n; i++) {
        const double w = (double)d0[i] + (double)a * x[i];
        worst = std::max(worst, std::fabs(d[i] - w) / ((std::fabs((double)d0[i]) + std::fabs((double)a * x[i])) * 0x1p-24 + 1e-38));
      }
    }
    report(worst <= 2, path + " axpy_f32 = d + a·x within 2 roundings (in units of 2^-24 of the terms)", worst);
  }
  {  // RMSNorm's rows: sum_sq_f64 bit-equal to the scalar path and near long double; dot3_f64 near long double; the
     // element loops vs float64
    bool same = true;
    double worst = 0, worst_row = 0;
    for (int trial = 0; trial < 60; trial++) {
      const int n = irand(0, 1100);
      std::vector<float> a(n), b(n), c(n), dx(n), dw(n), y(n);
      for (auto& v : a) v = uni() * std::ldexp(1.f, irand(-8, 8));
      for (auto& v : b) v = uni();
      for (auto& v : c) v = uni();
      for (auto& v : dx) v = uni();
      for (auto& v : dw) v = uni();
      const double ss = K->sum_sq_f64(a.data(), n), d3 = K->dot3_f64(a.data(), b.data(), c.data(), n);
      same = same && ss == S->sum_sq_f64(a.data(), n);
      long double wss = 0, wd3 = 0, scale = 0;
      for (int i = 0; i < n; i++) {
        wss += (long double)a[i] * a[i];
        const long double p = (long double)a[i] * b[i] * c[i];
        wd3 += p, scale += std::fabs(p);
      }
      worst = std::max(worst, (double)(std::fabs(ss - wss) / (wss + 1e-300)));
      worst = std::max(worst, (double)(std::fabs(d3 - wd3) / (scale + 1e-300)));
      const float r = 0.5f + 0.5f * std::fabs(uni()), cc = uni();
      std::vector<float> dx0(dx), dw0(dw);
      K->rms_scale_row(y.data(), a.data(), b.data(), r, n);
      K->rms_backward_row(dx.data(), dw.data(), c.data(), a.data(), b.data(), r, cc, n);
      for (int i = 0; i < n; i++) {
        const double x = a[i], w = b[i], dy = c[i], sx = std::fabs(x) + 1e-30;
        worst_row = std::max(worst_row, std::fabs(y[i] - x * r * w) / sx);
        worst_row = std::max(worst_row, std::fabs(dw[i] - (dw0[i] + dy * x * r)) / (std::fabs(dw0[i]) + sx));
        worst_row = std::max(worst_row, std::fabs(dx[i] - (dx0[i] + dy * w * r - x * cc)) / (std::fabs(dx0[i]) + 1 + sx));
      }
    }
    report(same && worst < 1e-15, path + " sum_sq_f64 bit-equal to the scalar path; sum_sq_f64, dot3_f64 near long double", worst);
    report(worst_row < 4e-7, path + " rms_scale_row, rms_backward_row vs float64", worst_row);
  }
  {  // fused products of matrices sharing their input = each product alone, bit for bit
    bool same = true;
    for (int trial = 0; trial < 4; trial++) {
      int cols = 256 * irand(1, 2), R = irand(1, 9);
      DType ts[3] = {DT_F16, DT_BF16, DT_Q8_0};
      std::vector<std::vector<uint8_t>> ws(3);
      Mat Ws[3];
      std::vector<std::vector<float>> ys(3), alone(3);
      std::vector<float> x((size_t)R * cols);
      for (auto& v : x) v = uni();
      for (int i = 0; i < 3; i++) {
        int rows = irand(1, 300);
        if (dtype_quantised(ts[i])) {
          ws[i] = random_blocks(ts[i], rows * cols / dtype_block_elems(ts[i]));
        } else {
          std::vector<double> wv;
          store(ts[i], rows * cols, &ws[i], &wv);
        }
        Ws[i].data = ws[i].data(), Ws[i].dtype = ts[i], Ws[i].rows = rows, Ws[i].cols = cols;
        ys[i].assign((size_t)R * rows, 0.f);
        alone[i].assign((size_t)R * rows, 0.f);
        matmul_wt(alone[i].data(), x.data(), R, Ws[i]);
      }
      float* yp[3] = {ys[0].data(), ys[1].data(), ys[2].data()};
      matmul_wt_fused(yp, x.data(), R, Ws, 3);
      for (int i = 0; i < 3; i++) same = same && std::memcmp(ys[i].data(), alone[i].data(), ys[i].size() * 4) == 0;
    }
    report(same, path + " matmul_wt_fused (F16 + BF16 + Q8_0) bit-equal to separate products", 0);
  }
}

// parallel_for hands out chunks dynamically: every index of [0, n) must run exactly once, call after call
static void test_parallel_for() {
  threads_init(0);
  bool ok = true;
  std::vector<int> hits;
  for (int call = 0; call < 20000 && ok; call++) {
    int n = irand(1, 300);
    hits.assign(n, 0);
    parallel_for(n, [&](int b, int e, int) {
      for (int i = b; i < e; i++) __atomic_fetch_add(&hits[i], 1, __ATOMIC_RELAXED);
    });
    for (int i = 0; i < n; i++) ok = ok && hits[i] == 1;
  }
  report(ok, "parallel_for: every index exactly once over 20000 calls (" + std::to_string(threads_count()) + " threads)", 0);
}

// Attention with GPT-OSS's sinks (a per-head logit in the softmax denominator, no value), GQA, a window and a cap:
// the float32 kernels against a float64 forward written here from the definition, and the backward's dq, dk, dv and
// dsinks against float64 central differences of L = Σ out·R. Without the sinks term both must differ (can fail).
struct AttnCase {
  int T, H, KVH, hd, window;
  float softcap;
};
static double ref_attention(std::vector<double>* out, const std::vector<double>& q, const std::vector<double>& k,
                            const std::vector<double>& v, const std::vector<double>* sinks, const AttnCase& c,
                            double scale, const std::vector<double>& R) {
  const int T = c.T, H = c.H, KVH = c.KVH, hd = c.hd;
  out->assign((size_t)T * H * hd, 0.0);
  for (int h = 0; h < H; h++) {
    const int g = h / (H / KVH);
    for (int t = 0; t < T; t++) {
      const int u0 = c.window > 0 ? std::max(0, t - c.window + 1) : 0;
      std::vector<double> s(t + 1, 0.0);
      for (int u = u0; u <= t; u++) {
        double x = 0;
        for (int i = 0; i < hd; i++) x += q[(t * H + h) * hd + i] * k[(u * KVH + g) * hd + i];
        x *= scale;
        if (c.softcap > 0) x = c.softcap * std::tanh(x / c.softcap);
        s[u] = x;
      }
      double z = sinks ? std::exp((*sinks)[h]) : 0.0;
      for (int u = u0; u <= t; u++) z += std::exp(s[u]);
      for (int u = u0; u <= t; u++)
        for (int i = 0; i < hd; i++) (*out)[(t * H + h) * hd + i] += std::exp(s[u]) / z * v[(u * KVH + g) * hd + i];
    }
  }
  double L = 0;
  for (size_t i = 0; i < out->size(); i++) L += (*out)[i] * R[i];
  return L;
}

static void test_attention_sinks() {
  threads_init(0);
  const AttnCase cases[] = {{7, 4, 2, 4, 0, 0.f}, {9, 2, 1, 6, 4, 0.f}, {6, 4, 4, 4, 0, 2.f}};
  for (const AttnCase& c : cases) {
    const int T = c.T, H = c.H, KVH = c.KVH, hd = c.hd;
    std::vector<float> q(T * H * hd), k(T * KVH * hd), v(T * KVH * hd), sinks(H), R(T * H * hd);
    for (auto& x : q) x = uni();
    for (auto& x : k) x = uni();
    for (auto& x : v) x = uni();
    for (auto& x : sinks) x = 2.f * uni();
    for (auto& x : R) x = uni();
    AttnOpts o;
    o.window = c.window;
    o.scale = 1.f / std::sqrt((float)hd);
    o.softcap = c.softcap;
    o.sinks = sinks.data();
    std::vector<float> out(T * H * hd), probs((size_t)H * T * T);
    attention_forward(out.data(), probs.data(), q.data(), k.data(), v.data(), T, 0, H, KVH, hd, o);
    auto d = [](const std::vector<float>& x) { return std::vector<double>(x.begin(), x.end()); };
    std::vector<double> qd = d(q), kd = d(k), vd = d(v), sd = d(sinks), Rd = d(R), ref, plain;
    ref_attention(&ref, qd, kd, vd, &sd, c, o.scale, Rd);
    ref_attention(&plain, qd, kd, vd, nullptr, c, o.scale, Rd);
    double fwd = 0, off = 0;
    for (size_t i = 0; i < ref.size(); i++) {
      fwd = std::max(fwd, std::fabs(out[i] - ref[i]));
      off = std::max(off, std::fabs(out[i] - plain[i]));
    }
    const std::string what = "attention with sinks (T " + std::to_string(T) + ", H " + std::to_string(H) + ", KVH " +
                             std::to_string(KVH) + ", window " + std::to_string(c.window) + ", cap " +
                             std::to_string((int)c.softcap) + ")";
    report(fwd < 2e-6 && off > 1e-3, what + ": forward vs float64 (and far from no sinks)", fwd);
    std::vector<float> dq(q.size()), dk(k.size()), dv(v.size()), ds(H, 0.f);
    attention_backward(dq.data(), dk.data(), dv.data(), R.data(), probs.data(), q.data(), k.data(), v.data(), T, H, KVH,
                       hd, o, ds.data());
    // central differences of the float64 loss, every entry of q, k, v and sinks
    double worst = 0;
    const double eps = 1e-5;
    auto check = [&](std::vector<double>& x, const std::vector<float>& g) {
      for (size_t i = 0; i < x.size(); i++) {
        const double keep = x[i];
        std::vector<double> tmp;
        x[i] = keep + eps;
        const double up = ref_attention(&tmp, qd, kd, vd, &sd, c, o.scale, Rd);
        x[i] = keep - eps;
        const double dn = ref_attention(&tmp, qd, kd, vd, &sd, c, o.scale, Rd);
        x[i] = keep;
        const double num = (up - dn) / (2 * eps);
        worst = std::max(worst, std::fabs(g[i] - num) / (1e-3 + std::fabs(num)));
      }
    };
    check(qd, dq);
    check(kd, dk);
    check(vd, dv);
    check(sd, ds);
    bool sink_grads = true;
    for (float x : ds) sink_grads = sink_grads && std::fabs(x) > 1e-4;
    report(worst < 1e-3 && sink_grads, what + ": dq, dk, dv, dsinks vs float64 central differences", worst);
  }
}

// RMSNorm over T rows (summed side by side in groups of 8, 4, 2, 1) = each row alone, bit for bit (a phrase's rows and
// a generated token see the same norm), and both near float64
static void test_rmsnorm_rows() {
  bool same = true;
  double worst = 0;
  for (int trial = 0; trial < 30; trial++) {
    const int T = irand(1, 21), D = irand(1, 300);
    std::vector<float> x((size_t)T * D), w(D), dy((size_t)T * D), y((size_t)T * D), r(T), dx((size_t)T * D, 0.f), dw(D, 0.f);
    for (auto& v : x) v = uni();
    for (auto& v : w) v = uni();
    for (auto& v : dy) v = uni();
    rmsnorm_forward(y.data(), r.data(), x.data(), w.data(), T, D, 1e-6f);
    rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), r.data(), T, D);
    std::vector<float> dw1(D, 0.f);
    for (int t = 0; t < T; t++) {
      std::vector<float> y1(D), dx1(D, 0.f);
      float r1;
      rmsnorm_forward(y1.data(), &r1, x.data() + (size_t)t * D, w.data(), 1, D, 1e-6f);
      rmsnorm_backward(dx1.data(), dw1.data(), dy.data() + (size_t)t * D, x.data() + (size_t)t * D, w.data(), &r1, 1, D);
      same = same && r1 == r[t] && std::memcmp(y1.data(), y.data() + (size_t)t * D, 4 * D) == 0 &&
             std::memcmp(dx1.data(), dx.data() + (size_t)t * D, 4 * D) == 0;
      double ss = 0, dot = 0;
      for (int i = 0; i < D; i++) ss += (double)x[(size_t)t * D + i] * x[(size_t)t * D + i];
      const double rr = 1 / std::sqrt(ss / D + 1e-6);
      for (int i = 0; i < D; i++) dot += (double)dy[(size_t)t * D + i] * w[i] * x[(size_t)t * D + i];
      for (int i = 0; i < D; i++) {
        const double xi = x[(size_t)t * D + i];
        worst = std::max(worst, std::fabs(y[(size_t)t * D + i] - xi * rr * w[i]));
        const double want = dy[(size_t)t * D + i] * w[i] * rr - xi * dot * rr * rr * rr / D;
        worst = std::max(worst, std::fabs(dx[(size_t)t * D + i] - want) / (1 + std::fabs(want)));
      }
    }
    same = same && std::memcmp(dw1.data(), dw.data(), 4 * D) == 0;
  }
  report(same && worst < 1e-5, "rmsnorm_forward / backward over T rows = each row alone (bit for bit), near float64", worst);
}

int main(int argc, char** argv) {
  std::vector<std::string> paths = kernel_paths_available();
  if (argc > 1) paths.assign(argv + 1, argv + argc);  // named paths only (a path this CPU lacks fails)
  std::printf("kernel paths: ");
  for (auto& p : paths) std::printf("%s ", p.c_str());
  std::printf("\n");
  // $SOLILOQUY_TUNING (zen, intel): the tuning every product below runs under — each must pass; an unknown name fails
  if (const char* t = std::getenv("SOLILOQUY_TUNING")) {
    const std::string why = kernel_tuning_set(t);
    if (!why.empty()) {
      std::printf("FAIL SOLILOQUY_TUNING=%s: %s\n", t, why.c_str());
      return 1;
    }
  }
  std::printf("tuning: %s\n", kernel_tuning().name);
  test_parallel_for();
  test_attention_sinks();
  test_rmsnorm_rows();
  for (auto& p : paths) test_path(p);
  std::printf("%d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
