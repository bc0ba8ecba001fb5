// The machine's limits, measured in-run for the benchmark's roofline: memory read bandwidth (a streaming sum with
// independent accumulators over a buffer far larger than the caches — a dependent-load or single-accumulator loop
// measures latency, not bandwidth) and the fp32 FMA peak, both on the active kernel path with `threads` threads.
#include "roofline.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "kernel_paths.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// runs fn(t) on `threads` threads at once (thread 0 is the caller) and returns the wall time of the slowest
template <typename F>
double timed(int threads, F fn) {
  std::vector<std::thread> th;
  double t0 = now();
  for (int t = 1; t < threads; t++) th.emplace_back(fn, t);
  fn(0);
  for (auto& x : th) x.join();
  return now() - t0;
}
}  // namespace

double measure_bandwidth_gbs(double gib, int threads, int passes) {
  const int64_t n = (int64_t)(gib * (1 << 30)) / 4;
  // on 2 MiB pages where the system allows it, as the loader's copy of the weights is: measured here, a streaming
  // read from 4 KiB pages is a few per cent slower, and the roofline should not flatter the engine
  const size_t bytes = sizeof(float) * n;
#ifdef __linux__
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 0;
  madvise(m, bytes, MADV_HUGEPAGE);
  float* p = (float*)m;
#else
  float* p = (float*)std::malloc(bytes);
  if (!p) return 0;
#endif
  const int64_t per = n / threads;
  // each thread first touches (and later reads) its own part
  timed(threads, [&](int t) {
    float* q = p + per * t;
    for (int64_t i = 0; i < per; i++) q[i] = (float)(i & 7);
  });
  std::vector<float> sink(threads);
  double best = 1e30;
  for (int r = 0; r < passes; r++) {
    double s = timed(threads, [&](int t) { sink[t] = kern()->stream_sum(p + per * t, per); });
    if (s < best) best = s;
  }
#ifdef __linux__
  munmap(p, bytes);
#else
  std::free(p);
#endif
  volatile float keep = sink[0];
  (void)keep;
  return (double)per * threads * 4 / best / 1e9;
}

double measure_flops_gflops(int threads) {
  const int64_t iters = 20'000'000;
  std::vector<double> flops(threads);
  std::vector<float> sink(threads);
  double best = 1e30;
  for (int r = 0; r < 3; r++) {
    double s = timed(threads, [&](int t) { flops[t] = kern()->fma_chains(iters, &sink[t]); });
    if (s < best) best = s;
  }
  double total = 0;
  for (double f : flops) total += f;
  volatile float keep = sink[0];
  (void)keep;
  return total / best / 1e9;
}
