// Timing of the weight products alone (product_bench.h).
#include "product_bench.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "kernels.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// xorshift: uniform in [-1, 1)
struct Random {
  uint64_t s;
  float next() {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return (float)((s >> 40) & 0xffffff) / (float)(1 << 23) - 1.f;
  }
};
// Reads a buffer larger than the last-level cache, so each product starts with its weights in memory as in a step
// (where the whole model streams between a matrix's forward and its backward).
float evict_caches() {
  static std::vector<float> big((size_t)64 << 20, 1.f);  // 256 MiB
  float s = 0;
  for (size_t i = 0; i < big.size(); i += 16) s += big[i];
  return s;
}

// the last matrix made, kept for the next call of the same shape and type (the benchmark alternates kernel paths on
// one matrix; the 262144 × 1152 table takes a second to fill)
struct Weights {
  void* data = nullptr;
  size_t bytes = 0;
  DType t = DT_F32;
  int rows = 0, cols = 0;
};
Weights& last_weights() {
  static Weights w;
  return w;
}

const void* weights(DType t, int rows, int cols) {
  Weights& w = last_weights();
  if (w.data && w.t == t && w.rows == rows && w.cols == cols) return w.data;
  if (w.data) {
#ifdef __linux__
    munmap(w.data, w.bytes);
#else
    std::free(w.data);
#endif
    w.data = nullptr;
  }
  const size_t bytes = (size_t)rows * cols * dtype_size(t);
#ifdef __linux__
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  madvise(m, bytes, MADV_HUGEPAGE);
#else
  void* m = std::malloc(bytes);
  if (!m) return nullptr;
#endif
  Random rnd{0x9e3779b97f4a7c15ull};
  const float scale = 32.f / (float)cols;  // products of order 1 whatever the width
  for (size_t i = 0; i < (size_t)rows * cols; i++) {
    const float v = rnd.next() * scale;
    if (t == DT_F32) ((float*)m)[i] = v;
    else ((uint16_t*)m)[i] = t == DT_F16 ? f32_to_f16(v) : f32_to_bf16(v);
  }
  w = {m, bytes, t, rows, cols};
  return m;
}
}  // namespace

ProductTimes time_products(DType t, int rows, int cols, int R, int reps, bool cold) {
  Mat W;
  W.data = weights(t, rows, cols);
  if (!W.data) return {0, 0};
  W.dtype = t;
  W.rows = rows;
  W.cols = cols;
  Random rnd{12345};
  std::vector<float> x((size_t)R * cols), dy((size_t)R * rows), y((size_t)R * rows), dx((size_t)R * cols, 0.f);
  for (float& v : x) v = rnd.next();
  for (float& v : dy) v = rnd.next();
  ProductTimes best{1e30, 1e30};
  for (int rep = 0; rep <= reps; rep++) {  // the first round warms up (thread pool, scratch buffers)
    volatile float sink = cold ? evict_caches() : 0.f;
    double t0 = now();
    matmul_wt(y.data(), x.data(), R, W);
    double t1 = now();
    if (cold) sink = evict_caches();
    double t1b = now();
    matmul_w_acc(dx.data(), dy.data(), R, W, 1.f);
    double t2 = now();
    (void)sink;
    if (rep > 0) {
      if (t1 - t0 < best.forward_s) best.forward_s = t1 - t0;
      if (t2 - t1b < best.backward_s) best.backward_s = t2 - t1b;
    }
  }
  return best;
}
