// Micro-benchmark of the generation product (not a test): y[R, rows] = x[R, cols]·Wᵀ over a 256 MiB F16 matrix (far
// beyond the caches) on each kernel path, R = 1 (one column) and R = 8 (a sweep): GB/s of weights streamed, and the
// R = 8 / R = 1 time ratio. Built like kernel_test (scripts/test-kernels.mjs --bench).
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "../src/kernel_paths.h"
#include "../src/kernels.h"
#include "../src/threads.h"

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main() {
  const int cols = getenv("COLS") ? atoi(getenv("COLS")) : 2048, rows = 65536 * 2048 / cols;
  std::vector<uint16_t> w((size_t)rows * cols);
  for (size_t i = 0; i < w.size(); i++) w[i] = f32_to_f16((float)((i * 2654435761u) % 1000) / 1000.f - 0.5f);
  Mat W;
  W.data = w.data(), W.dtype = DT_F16, W.rows = rows, W.cols = cols;
  threads_init(getenv("THREADS") ? atoi(getenv("THREADS")) : 0);
  std::printf("threads %d\n", threads_count());
  for (const std::string& p : kernel_paths_available()) {
    if (getenv("BENCH_PATH") && p != getenv("BENCH_PATH")) continue;
    kernels_set(p);
    double t1 = 0, t8 = 0;
    for (int R : {1, 8, 13}) {
      std::vector<float> x((size_t)R * cols, 0.01f), y((size_t)R * rows);
      double best = 1e30;
      for (int rep = 0; rep < 5; rep++) {
        double t = now();
        matmul_wt(y.data(), x.data(), R, W);
        t = now() - t;
        if (t < best) best = t;
      }
      if (R == 1) t1 = best; if (R == 8) t8 = best;
      if (R == 13) {  // the step's backward product dx[R, cols] += dy[R, rows]·W
        std::vector<float> dx((size_t)R * cols, 0.f);
        double bw = 1e30;
        for (int rep = 0; rep < 15; rep++) {
          double t = now();
          matmul_w_acc(dx.data(), y.data(), R, W, 1.f);
          t = now() - t;
          if (t < bw) bw = t;
        }
        std::printf("%-7s R=%d backward  %.2f ms  %.1f GFLOP/s\n", p.c_str(), R, bw * 1e3, 2.0 * R * w.size() / bw / 1e9);
      }
      std::printf("%-7s R=%d  %.2f ms  %.1f GB/s  %.1f GFLOP/s\n", p.c_str(), R, best * 1e3, w.size() * 2 / best / 1e9,
                  2.0 * R * w.size() / best / 1e9);
    }
    std::printf("%-7s R=8 / R=1 time: %.2f\n", p.c_str(), t8 / t1);
  }
}
