#include "threads.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() { std::this_thread::yield(); }
#endif

// Generation runs ~100 small parallel_for calls per token on small models, so waking workers through a condition
// variable each time would dominate. Workers spin briefly on an atomic generation counter before sleeping.
namespace {
constexpr int SPIN = 4000;  // ~20–50 µs: longer spins starve other processes on a busy 2-core machine

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv_start, cv_done;
  const std::function<void(int, int, int)>* job = nullptr;
  int n = 0;
  std::atomic<int> generation{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stop{false};
  std::mutex submit_mu;  // one parallel_for at a time (engine calls may come from several JS workers)
};
Pool* pool = nullptr;
thread_local bool in_worker = false;

void chunk(int n, int nt, int i, int* b, int* e) {
  int per = n / nt, extra = n % nt;
  *b = i * per + (i < extra ? i : extra);
  *e = *b + per + (i < extra ? 1 : 0);
}

void worker_main(int idx) {
  in_worker = true;
  int seen = 0;
  for (;;) {
    int spins = 0;
    while (pool->generation.load(std::memory_order_acquire) == seen && !pool->stop.load() && spins < SPIN) {
      cpu_relax();
      spins++;
    }
    if (pool->generation.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lk(pool->mu);
      pool->cv_start.wait(lk, [&] { return pool->stop.load() || pool->generation.load() != seen; });
    }
    if (pool->stop.load()) return;
    seen = pool->generation.load(std::memory_order_acquire);
    const std::function<void(int, int, int)>* job = pool->job;
    int n = pool->n, nt = (int)pool->workers.size() + 1;
    int b, e;
    chunk(n, nt, idx + 1, &b, &e);
    if (b < e) (*job)(b, e, idx + 1);
    if (pool->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lk(pool->mu);
      pool->cv_done.notify_one();
    }
  }
}
}  // namespace

void threads_init(int n) {
  if (pool) return;
  if (n <= 0) n = (int)std::thread::hardware_concurrency();
  if (n <= 0) n = 1;
  pool = new Pool();
  for (int i = 0; i < n - 1; i++) pool->workers.emplace_back(worker_main, i);
}

int threads_count() { return pool ? (int)pool->workers.size() + 1 : 1; }

void parallel_for(int n, const std::function<void(int, int, int)>& fn) {
  if (n <= 0) return;
  if (!pool) threads_init(0);
  int nt = (int)pool->workers.size() + 1;
  if (in_worker || nt == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> submit(pool->submit_mu);
  {
    std::lock_guard<std::mutex> lk(pool->mu);
    pool->job = &fn;
    pool->n = n;
    pool->pending.store(nt - 1, std::memory_order_relaxed);
    pool->generation.fetch_add(1, std::memory_order_release);
  }
  pool->cv_start.notify_all();
  in_worker = true;  // nested parallel_for from this thread's chunk runs serially
  int b, e;
  chunk(n, nt, 0, &b, &e);
  if (b < e) fn(b, e, 0);
  in_worker = false;
  int spins = 0;
  while (pool->pending.load(std::memory_order_acquire) != 0 && spins < SPIN) {
    cpu_relax();
    spins++;
  }
  if (pool->pending.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lk(pool->mu);
    pool->cv_done.wait(lk, [&] { return pool->pending.load() == 0; });
  }
}
