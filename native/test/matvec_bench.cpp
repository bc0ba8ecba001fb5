// Micro-benchmark of the generation product (not a test): y[R, rows] = x[R, cols]·Wᵀ over a 256 MiB F16 matrix (far
// beyond the caches) on each kernel path, R = 1 (one column) and R = 8 (a sweep): GB/s of weights streamed, and the
// R = 8 / R = 1 time ratio. Built like kernel_test (scripts/test-kernels.mjs --bench).
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "../src/kernel_paths.h"
#include "../src/kernels.h"
#include "../src/threads.h"

static double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main() {
  const int rows = 65536, cols = 2048;
  std::vector<uint16_t> w((size_t)rows * cols);
  for (size_t i = 0; i < w.size(); i++) w[i] = f32_to_f16((float)((i * 2654435761u) % 1000) / 1000.f - 0.5f);
  Mat W;
  W.data = w.data(), W.dtype = DT_F16, W.rows = rows, W.cols = cols;
  threads_init(0);
  std::printf("threads %d\n", threads_count());
  for (const std::string& p : kernel_paths_available()) {
    kernels_set(p);
    double t1 = 0, t8 = 0;
    for (int R : {1, 8}) {
      std::vector<float> x((size_t)R * cols, 0.01f), y((size_t)R * rows);
      double best = 1e30;
      for (int rep = 0; rep < 5; rep++) {
        double t = now();
        matmul_wt(y.data(), x.data(), R, W);
        t = now() - t;
        if (t < best) best = t;
      }
      (R == 1 ? t1 : t8) = best;
      std::printf("%-7s R=%d  %.2f ms  %.1f GB/s  %.1f GFLOP/s\n", p.c_str(), R, best * 1e3, w.size() * 2 / best / 1e9,
                  2.0 * R * w.size() / best / 1e9);
    }
    std::printf("%-7s R=8 / R=1 time: %.2f\n", p.c_str(), t8 / t1);
  }
}
