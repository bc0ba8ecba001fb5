// Micro-benchmark of the generation product on block-quantised matrices (not a test): y[R, rows] = x[R, cols]·Wᵀ for
// R = 1, 2, 4 over a matrix of random blocks (65520 rows, far beyond the caches), on each kernel path, timed in turn
// in one process — the fused kernel (matmul_wt) against the former way, each row dequantised into fp32 and dotted
// (dequantise_blocks + dot_f32 per row; for R ≥ 2 three rows and the 3-row kernel, threaded alike) — and the ratio. Built by scripts/test-kernels.mjs --qbench.
//   TYPES=Q4_K,Q6_K COLS=2048 THREADS=2 BENCH_PATH=avx512
#include <chrono>
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

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

static const DType TYPES[] = {DT_Q4_K,   DT_Q6_K,  DT_Q3_K,   DT_Q5_K,    DT_IQ4_XS,  DT_Q5_0,   DT_Q5_1,
                              DT_Q8_0,   DT_Q4_0,  DT_Q4_1,   DT_Q2_K,    DT_IQ4_NL,  DT_MXFP4,  DT_IQ3_S,
                              DT_IQ3_XXS, DT_IQ2_XXS, DT_IQ2_XS, DT_IQ2_S, DT_IQ1_S, DT_IQ1_M, DT_TQ1_0, DT_TQ2_0};

// random bytes with every fp16 scale field small and finite
static std::vector<uint8_t> blocks(DType t, int64_t n) {
  std::mt19937 g(7);
  const int bb = dtype_block_bytes(t);
  std::vector<uint8_t> b((size_t)n * bb);
  for (auto& c : b) c = (uint8_t)g();
  auto put = [&](uint8_t* p) {
    uint16_t h = f32_to_f16(0.01f * (float)(g() % 100) / 100.f);
    std::memcpy(p, &h, 2);
  };
  for (int64_t k = 0; k < n; k++) {
    uint8_t* p = b.data() + k * bb;
    if (t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q5_0 || t == DT_IQ4_NL || t == DT_IQ4_XS) put(p);
    if (t == DT_Q4_K || t == DT_Q5_K || t == DT_Q4_1 || t == DT_Q5_1) put(p), put(p + 2);
    if (t == DT_Q6_K) put(p + 208);
    if (t == DT_Q2_K) put(p + 80), put(p + 82);
    if (t == DT_Q3_K) put(p + 108);
    if (dtype_iq_grid(t) && t != DT_IQ1_M) put(p);
    if (t == DT_TQ1_0) put(p + 52);
    if (t == DT_TQ2_0) put(p + 64);
    if (t == DT_MXFP4) p[0] = (uint8_t)(118 + g() % 8);  // E8M0 exponent: scales 2^-9 … 2^-2
    if (t == DT_IQ1_M) p[55] &= 0x0f, p[55] |= 0x20;     // top nibble of the fp16 d spread over the scales: small
  }
  return b;
}

int main() {
  const int cols = getenv("COLS") ? atoi(getenv("COLS")) : 2048, rows = 65520;  // a multiple of 24 and 3
  threads_init(getenv("THREADS") ? atoi(getenv("THREADS")) : 0);
  std::printf("threads %d, %d × %d\n", threads_count(), rows, cols);
  const std::string only = getenv("TYPES") ? getenv("TYPES") : "";
  for (DType t : TYPES) {
    if (!only.empty() && ("," + only + ",").find("," + std::string(dtype_name(t)) + ",") == std::string::npos) continue;
    std::vector<uint8_t> w = blocks(t, (int64_t)rows * cols / dtype_block_elems(t));
    Mat W;
    W.data = w.data(), W.dtype = t, W.rows = rows, W.cols = cols;
    const int64_t rb = dtype_row_bytes(t, cols);
    for (const std::string& p : kernel_paths_available()) {
      if (getenv("BENCH_PATH") && p != getenv("BENCH_PATH")) continue;
      kernels_set(p);
      for (int R : {1, 2, 4}) {
        if (R > 1 && !kern()->dot3xn) continue;  // the scalar path
        std::vector<float> x((size_t)R * cols), y((size_t)R * rows), y_old((size_t)R * rows);
        for (size_t i = 0; i < x.size(); i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.f - 0.5f;
        // the former wt_rows: one row dequantised then dotted (R = 1), three rows then the 3-row kernel (R ≥ 2)
        auto old_way = [&]() {
          parallel_for((rows + 23) / 24, [&](int b0, int b1, int) {
            std::vector<float> s((size_t)3 * cols);
            const int nb = cols / dtype_block_elems(t);
            for (int o = b0 * 24; o < b1 * 24 && o < rows; o += R == 1 ? 1 : 3) {
              if (R == 1) {
                kern()->dequantise_blocks(t, w.data() + o * rb, nb, s.data());
                y_old[o] = kern()->dot_f32(x.data(), s.data(), cols);
                continue;
              }
              for (int k = 0; k < 3; k++) kern()->dequantise_blocks(t, w.data() + (o + k) * rb, nb, s.data() + (size_t)k * cols);
              const float* xr[8];
              for (int r = 0; r < R; r++) xr[r] = x.data() + (size_t)r * cols;
              float acc[24];
              kern()->dot3xn(xr, R, s.data(), s.data() + cols, s.data() + 2 * cols, DT_F32, cols, acc);
              for (int k = 0; k < 3; k++)
                for (int r = 0; r < R; r++) y_old[(size_t)r * rows + o + k] = acc[8 * k + r];
            }
          });
        };
        double best_new = 1e30, best_old = 1e30;
        for (int rep = 0; rep < 7; rep++) {  // interleaved, so both see the same machine
          double t0 = now();
          matmul_wt(y.data(), x.data(), R, W);
          best_new = std::min(best_new, now() - t0);
          t0 = now();
          old_way();
          best_old = std::min(best_old, now() - t0);
        }
        double diff = 0, scale = 0;
        for (size_t i = 0; i < y.size(); i++) diff = std::max(diff, (double)std::fabs(y[i] - y_old[i])), scale = std::max(scale, (double)std::fabs(y_old[i]));
        std::printf("%-6s %-7s R=%d  fused %7.2f ms %5.1f GB/s   dequantise+dot %7.2f ms   speed-up %.2f×   (max |Δ| %.2g of %.2g)\n",
                    dtype_name(t), p.c_str(), R, best_new * 1e3, (double)w.size() / best_new / 1e9, best_old * 1e3,
                    best_old / best_new, diff, scale);
      }
    }
  }
}
