// The backward product dx[R, in] += dy[R, out]·W (matmul_w_acc, matmul_w_acc_groups) alone (not a test) — or with
// FWD=1 the forward y[R, out] = x[R, in]·Wᵀ (matmul_wt, matmul_wt_fused, matmul_wt_groups) on the same matrices. Built
// by scripts/test-kernels.mjs --bwdbench; two modes:
//   backward_bench hash   one FNV-1a hash per kernel path × stored type (element types and block-quantised ones) ×
//                         shape, over R = 1 … 20 rows (scale 1 and −0.75), then grouped products (q/k/v-like groups of
//                         13 rows, MoE-like runs of many small groups): a change to the backward that must stay bit-
//                         identical diffs this output before and after it (the thread count must not change it either:
//                         THREADS=1, 2 and 3 print the same); FWD=1: the forward's, over R = 1 … 20 (x rows
//                         aligned and not) and fused and grouped products
//   backward_bench        the Gemma-3-1B / Qwen3-0.6B matrices of the products bench at R = 13, F16 and BF16 (and the
//                         grouped q/k/v and gate/up passes of a step), each kernel path in PATHS (default avx512) in
//                         turn round by round, best of REPS: GFLOP/s and the fraction of the path's FMA peak. By
//                         default one thread (THREADS=1) timed in its own CPU time, which the other processes of a
//                         shared machine disturb far less than the wall clock; WALL=1 times the wall clock instead
//                         (with THREADS=2: as the products bench does). The weights (and dy) are evicted from the
//                         caches before each call unless WARM=1. ONLY=g.q,q.down picks matrices, DT=F16 one type, R=8
//                         another row count. With FWD=1 the grouped entries (g.qkv, q.gu …) are the step's fused
//                         forward products on one x.
#include <sys/mman.h>
#include <time.h>

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

static std::vector<uint8_t> random_weights(DType t, int rows, int cols) {
  if (dtype_quantised(t)) return random_blocks(t, rows * cols / dtype_block_elems(t));
  std::vector<uint8_t> b((size_t)rows * cols * dtype_size(t));
  for (int i = 0; i < rows * cols; i++) {
    const float v = uni();
    if (t == DT_F32) {
      std::memcpy(b.data() + 4 * (size_t)i, &v, 4);
    } else {
      const uint16_t h = t == DT_F16 ? f32_to_f16(v) : f32_to_bf16(v);
      std::memcpy(b.data() + 2 * (size_t)i, &h, 2);
    }
  }
  return b;
}
static uint64_t fnv(const void* p, size_t n, uint64_t h) {
  const uint8_t* b = (const uint8_t*)p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}
static const uint64_t FNV0 = 1469598103934665603ull;

// the stored types both hash modes cover (element types and block-quantised ones)
static const DType types[] = {DT_F32, DT_F16, DT_BF16, DT_Q8_0, DT_Q4_0, DT_Q4_K, DT_Q6_K, DT_Q5_K, DT_IQ4_XS, DT_MXFP4, DT_Q4_1};
static const int ntypes = sizeof types / sizeof types[0];

static void hashes() {
  // rows × columns: short and long runs, columns past a multiple of 64, widths of both bench models, products cut
  // into 2 and 4 row parts (kernels.cpp, w_acc_parts)
  const int shapes[][2] = {{3, 1152}, {64, 1152}, {100, 1024}, {257, 1152}, {130, 2048},   {70, 3072},
                           {300, 256}, {65, 1000}, {129, 1090}, {512, 6912}, {1030, 1152}, {2100, 330}};
  const int Rs[] = {1, 2, 5, 6, 7, 8, 12, 13, 16, 20};
  for (const std::string& path : kernel_paths_available()) {
    kernels_set(path);
    for (DType t : types)
      for (const auto& s : shapes) {
        const int rows = s[0], cols = s[1];
        if (dtype_quantised(t) && cols % dtype_block_elems(t)) continue;
        gen.seed(rows * 7919 + cols + t * 31);
        const std::vector<uint8_t> w = random_weights(t, rows, cols);
        Mat W;
        W.data = w.data(), W.dtype = t, W.rows = rows, W.cols = cols;
        uint64_t h = FNV0;
        for (int R : Rs) {
          std::vector<float> dy((size_t)R * rows), dx((size_t)R * cols);
          for (auto& v : dy) v = uni();
          for (auto& v : dx) v = uni();
          matmul_w_acc(dx.data(), dy.data(), R, W, R % 3 == 2 ? -0.75f : 1.f);
          h = fnv(dx.data(), dx.size() * 4, h);
        }
        std::printf("%s %s %dx%d %016llx\n", path.c_str(), dtype_name(t), rows, cols, (unsigned long long)h);
      }
    // groups: trials 0–3 one group of 2–3 products over 13 rows (q/k/v, gate/up), then many small groups of 1–2
    // products over 1–9 rows each (a MoE layer's experts)
    for (int trial = 0; trial < 12; trial++) {
      gen.seed(1000 + trial);
      const DType t = types[trial % ntypes];
      int cols = trial < 6 ? 1152 : 512;
      if (dtype_quantised(t) && cols % dtype_block_elems(t)) cols = 1024;
      const int ng = trial < 4 ? 1 : irand(5, 40);
      std::vector<std::vector<uint8_t>> ws;
      std::vector<std::vector<float>> dys, dxs;
      std::vector<Mat> mats((size_t)ng * 3);
      std::vector<const float*> dyp((size_t)ng * 3);
      std::vector<MatmulAccGroup> groups(ng);
      ws.reserve((size_t)ng * 3), dys.reserve((size_t)ng * 3), dxs.reserve(ng);
      for (int g = 0; g < ng; g++) {
        const int count = trial < 4 ? irand(2, 3) : irand(1, 2), R = trial < 4 ? 13 : irand(1, 9);
        dxs.emplace_back((size_t)R * cols);
        for (auto& v : dxs.back()) v = uni();
        for (int i = 0; i < count; i++) {
          const int rows = trial < 4 ? 64 * irand(1, 16) + (dtype_quantised(t) ? 0 : irand(0, 3)) : irand(16, 300);
          ws.push_back(random_weights(t, rows, cols));
          Mat& M = mats[(size_t)g * 3 + i];
          M.data = ws.back().data(), M.dtype = t, M.rows = rows, M.cols = cols;
          dys.emplace_back((size_t)R * rows);
          for (auto& v : dys.back()) v = uni();
          dyp[(size_t)g * 3 + i] = dys.back().data();
        }
        groups[g] = MatmulAccGroup{dxs.back().data(), R, mats.data() + (size_t)g * 3, dyp.data() + (size_t)g * 3, count};
      }
      matmul_w_acc_groups(groups.data(), ng);
      uint64_t h = FNV0;
      for (auto& d : dxs) h = fnv(d.data(), d.size() * 4, h);
      std::printf("%s groups%d %s %016llx\n", path.c_str(), trial, dtype_name(t), (unsigned long long)h);
    }
  }
}

// The forward y[R, rows] = x[R, cols]·Wᵀ (FWD=1 hash): one hash per path × type × shape over R = 1 … 20, then fused
// products sharing x (q/k/v, gate/up) and grouped ones (many small groups, as a MoE layer's experts)
static void hashes_forward() {
  const int shapes[][2] = {{3, 1152}, {64, 1152}, {100, 1024}, {257, 1152}, {130, 2048}, {70, 3072},
                           {300, 256}, {65, 1000}, {129, 1090}, {512, 6912}, {50, 4104}, {40, 9000}};
  for (const std::string& path : kernel_paths_available()) {
    kernels_set(path);
    for (DType t : types)
      for (const auto& s : shapes) {
        const int rows = s[0], cols = s[1];
        if (dtype_quantised(t) && cols % dtype_block_elems(t)) continue;
        gen.seed(rows * 7919 + cols + t * 31);
        const std::vector<uint8_t> w = random_weights(t, rows, cols);
        Mat W;
        W.data = w.data(), W.dtype = t, W.rows = rows, W.cols = cols;
        uint64_t h = FNV0;
        for (int R = 1; R <= 20; R++) {
          std::vector<float> x((size_t)R * cols + 1), y((size_t)R * rows);
          for (auto& v : x) v = uni();
          // R odd: x one float past an aligned start (the copy to an aligned buffer)
          matmul_wt(y.data(), x.data() + (R & 1), R, W);
          h = fnv(y.data(), y.size() * 4, h);
        }
        std::printf("%s %s %dx%d %016llx\n", path.c_str(), dtype_name(t), rows, cols, (unsigned long long)h);
      }
    for (int trial = 0; trial < 12; trial++) {
      gen.seed(2000 + trial);
      const DType t = types[trial % ntypes];
      int cols = trial < 6 ? 1152 : 512;
      if (dtype_quantised(t) && cols % dtype_block_elems(t)) cols = 1024;
      const int ng = trial < 4 ? 1 : irand(5, 40);
      std::vector<std::vector<uint8_t>> ws;
      std::vector<std::vector<float>> xs, ys;
      std::vector<Mat> mats((size_t)ng * 3);
      std::vector<float*> yp((size_t)ng * 3);
      std::vector<MatmulGroup> groups(ng);
      ws.reserve((size_t)ng * 3), ys.reserve((size_t)ng * 3), xs.reserve(ng);
      for (int g = 0; g < ng; g++) {
        const int count = trial < 4 ? irand(2, 3) : irand(1, 2), R = trial < 4 ? 13 : irand(1, 9);
        xs.emplace_back((size_t)R * cols);
        for (auto& v : xs.back()) v = uni();
        for (int i = 0; i < count; i++) {
          const int rows = trial < 4 ? 64 * irand(1, 16) + (dtype_quantised(t) ? 0 : irand(0, 3)) : irand(16, 300);
          ws.push_back(random_weights(t, rows, cols));
          Mat& M = mats[(size_t)g * 3 + i];
          M.data = ws.back().data(), M.dtype = t, M.rows = rows, M.cols = cols;
          ys.emplace_back((size_t)R * rows);
          yp[(size_t)g * 3 + i] = ys.back().data();
        }
        groups[g] = MatmulGroup{xs.back().data(), R, mats.data() + (size_t)g * 3, yp.data() + (size_t)g * 3, count};
      }
      matmul_wt_groups(groups.data(), ng);
      uint64_t h = FNV0;
      for (auto& y : ys) h = fnv(y.data(), y.size() * 4, h);
      std::printf("%s fwdgroups%d %s %016llx\n", path.c_str(), trial, dtype_name(t), (unsigned long long)h);
    }
  }
}

static double clock_s(clockid_t c) {
  timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
// reads a buffer larger than the last-level cache (as product_bench.cpp does)
static float evict_caches() {
  static std::vector<float> big((size_t)64 << 20, 1.f);
  float s = 0;
  for (size_t i = 0; i < big.size(); i += 16) s += big[i];
  return s;
}
static std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  for (size_t a = 0; a <= s.size();) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

static void bench() {
  const bool warm = getenv("WARM") != nullptr, wall = getenv("WALL") != nullptr, fwd = getenv("FWD") != nullptr;
  const clockid_t clk = wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID;
  const int reps = getenv("REPS") ? atoi(getenv("REPS")) : 5, R = getenv("R") ? atoi(getenv("R")) : 13;
  const std::vector<std::string> only = split(getenv("ONLY") ? getenv("ONLY") : "");
  const std::vector<std::string> paths = split(getenv("PATHS") ? getenv("PATHS") : "avx512");
  // label, then the row counts of the products summed into one dx (one for a lone matrix), and the column count
  struct Product {
    const char* label;
    int rows[3], count, cols;
  };
  const Product products[] = {
      {"g.q", {1024}, 1, 1152},       {"g.kv", {256}, 1, 1152},    {"g.gateup", {6912}, 1, 1152},
      {"g.down", {1152}, 1, 6912},    {"g.o", {1152}, 1, 1024},    {"g.out", {262144}, 1, 1152},
      {"g.qkv", {1024, 256, 256}, 3, 1152}, {"g.gu", {6912, 6912}, 2, 1152},
      {"q.q", {2048}, 1, 1024},       {"q.kv", {1024}, 1, 1024},   {"q.gateup", {3072}, 1, 1024},
      {"q.down", {1024}, 1, 3072},    {"q.o", {1024}, 1, 2048},    {"q.out", {151936}, 1, 1024},
      {"q.qkv", {2048, 1024, 1024}, 3, 1024}, {"q.gu", {3072, 3072}, 2, 1024}};
  std::vector<double> peak(paths.size());
  for (size_t i = 0; i < paths.size(); i++) {
    const std::string why = kernels_set(paths[i]);
    if (!why.empty()) {
      std::printf("%s: %s\n", paths[i].c_str(), why.c_str());
      return;
    }
    float sink;
    for (int r = 0; r < 3; r++) {  // the path's FMA peak on one core, in the same clock
      const double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID), f = kern()->fma_chains(20000000, &sink);
      const double g = f / (clock_s(CLOCK_THREAD_CPUTIME_ID) - t0) / 1e9;
      if (g > peak[i]) peak[i] = g;
    }
    if (wall) peak[i] *= threads_count();
  }
  std::printf("%s, %d thread(s), R = %d, weights %s, %s; FMA peak", fwd ? "forward y = x·Wᵀ" : "backward dx += dy·W",
              threads_count(), R,
              warm ? "as the last call left them" : "out of the caches", wall ? "wall clock" : "the thread's CPU time");
  for (size_t i = 0; i < paths.size(); i++) std::printf(" %s %.0f", paths[i].c_str(), peak[i]);
  std::printf(" GFLOP/s\n");
  for (DType t : {DT_F16, DT_BF16}) {
    if (getenv("DT") && std::string(getenv("DT")) != dtype_name(t)) continue;
    for (const Product& p : products) {
      bool wanted = only.empty();
      for (const std::string& o : only) wanted = wanted || o == p.label;
      if (!wanted) continue;
      Mat mats[3];
      std::vector<float> dy[3];
      const float* dyp[3];
      double flop = 0;
      for (int i = 0; i < p.count; i++) {
        const size_t n = (size_t)p.rows[i] * p.cols, bytes = n * 2;
        void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return;
        madvise(m, bytes, MADV_HUGEPAGE);  // as the loader's copy of the weights
        uint16_t* w = (uint16_t*)m;
        for (size_t k = 0; k < n; k++) {
          const float v = ((float)((k * 2654435761u) % 1000) / 1000.f - 0.5f) * 0.03f;
          w[k] = t == DT_F16 ? f32_to_f16(v) : f32_to_bf16(v);
        }
        mats[i].data = m, mats[i].dtype = t, mats[i].rows = p.rows[i], mats[i].cols = p.cols;
        dy[i].resize((size_t)R * p.rows[i]);
        for (auto& v : dy[i]) v = uni();
        dyp[i] = dy[i].data();
        flop += 2.0 * R * p.rows[i] * p.cols;
      }
      std::vector<float> dx((size_t)R * p.cols, 0.f);
      if (fwd)
        for (auto& v : dx) v = uni();  // the forward's x
      std::vector<float*> yp(p.count);  // the forward's outputs: dy's buffers
      for (int i = 0; i < p.count; i++) yp[i] = dy[i].data();
      std::vector<double> best(paths.size(), 1e30);
      for (int rep = 0; rep < reps; rep++)
        for (size_t i = 0; i < paths.size(); i++) {
          kernels_set(paths[i]);
          volatile float sink = warm ? 0.f : evict_caches();
          (void)sink;
          const double t0 = clock_s(clk);
          if (fwd) {  // as the step's forward: one product, or q/k/v and gate/up fused on one x
            matmul_wt_fused(yp.data(), dx.data(), R, mats, p.count);
          } else if (p.count == 1) {
            matmul_w_acc(dx.data(), dyp[0], R, mats[0], 1.f);
          } else {  // the step's grouped pass (linear_backward_input_groups without factors)
            MatmulAccGroup g{dx.data(), R, mats, dyp, p.count};
            matmul_w_acc_groups(&g, 1);
          }
          const double s = clock_s(clk) - t0;
          if (s < best[i]) best[i] = s;
        }
      std::printf("%-9s %-4s", p.label, dtype_name(t));
      for (size_t i = 0; i < paths.size(); i++)
        std::printf("  %s %6.1f GFLOP/s %.2f (%.3f ms)", paths[i].c_str(), flop / best[i] / 1e9, flop / best[i] / 1e9 / peak[i],
                    best[i] * 1e3);
      std::printf("\n");
      for (int i = 0; i < p.count; i++) munmap((void*)mats[i].data, (size_t)p.rows[i] * p.cols * 2);
    }
  }
}

int main(int argc, char** argv) {
  threads_init(getenv("THREADS") ? atoi(getenv("THREADS")) : 1);
  if (argc > 1 && !std::strcmp(argv[1], "hash")) getenv("FWD") ? hashes_forward() : hashes();
  else bench();
}
