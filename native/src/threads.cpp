#include "threads.h"

#include <algorithm>
#include <atomic>
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

// Generation runs ~100 small parallel_for calls per token, so waking workers through a condition variable each time
// would dominate: workers spin briefly on an atomic before sleeping.
//
// Work is handed out in chunks claimed from a shared counter, not one fixed slice per thread: on a busy machine
// (2 vCPUs shared with other processes) a worker that the OS has descheduled would otherwise hold up the whole
// product until it runs again. Here the caller (and any awake worker) takes over the chunks nobody has claimed, and
// waits only for chunks actually in progress; a worker that wakes late finds nothing left and goes back to waiting.
// Chunks are contiguous runs of [0, n), a few per thread, so each still streams its weight rows sequentially.
namespace {
constexpr int SPIN = 4000;     // ~20–50 µs: longer spins starve other processes on a busy 2-core machine
constexpr int CHUNKS_PER_THREAD = 4;

// the claim word: job generation (16 bits) | chunk count (24 bits) | next chunk (24 bits). A claim is a CAS on it,
// so a late worker can never take a chunk of a job other than the one it read.
inline uint64_t pack(uint64_t gen, uint64_t nchunks, uint64_t next) { return (gen & 0xffff) << 48 | nchunks << 24 | next; }

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv_start, cv_done;
  const std::function<void(int, int, int)>* job = nullptr;
  int n = 0;
  std::atomic<uint64_t> claim{0};
  std::atomic<int> done{0};  // chunks finished in the current job
  std::atomic<int> generation{0};
  std::atomic<int> sleepers_done{0};  // set when the caller sleeps waiting for chunks in progress
  std::atomic<bool> stop{false};
  std::mutex submit_mu;  // one parallel_for at a time (engine calls may come from several JS workers)
};
Pool* pool = nullptr;
thread_local bool in_worker = false;

// chunk c of nchunks over [0, n)
void chunk_range(int n, int nchunks, int c, int* b, int* e) {
  int per = n / nchunks, extra = n % nchunks;
  *b = c * per + (c < extra ? c : extra);
  *e = *b + per + (c < extra ? 1 : 0);
}

// Claims and runs chunks of the job published under claim-word generation `gen` until none are left.
void run_chunks(uint64_t gen, int tid) {
  for (;;) {
    uint64_t v = pool->claim.load(std::memory_order_acquire);
    uint64_t nchunks = (v >> 24) & 0xffffff, next = v & 0xffffff;
    if ((v >> 48) != (gen & 0xffff) || next >= nchunks) return;
    if (!pool->claim.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
    // a successful claim means the job is live: the caller waits for every claimed chunk before it returns
    const std::function<void(int, int, int)>* job = pool->job;
    int b, e;
    chunk_range(pool->n, (int)nchunks, (int)next, &b, &e);
    if (b < e) (*job)(b, e, tid);
    // seq_cst on `done` and `sleepers_done` (both sides): either the caller sees the last chunk done before it
    // sleeps, or this worker sees that it sleeps and wakes it
    if (pool->done.fetch_add(1) + 1 == (int)nchunks && pool->sleepers_done.load()) {
      std::lock_guard<std::mutex> lk(pool->mu);
      pool->cv_done.notify_one();
    }
  }
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
    run_chunks((uint64_t)(unsigned)seen, idx + 1);
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

void parallel_for(int n, const std::function<void(int, int, int)>& fn, int chunks) {
  if (n <= 0) return;
  if (!pool) threads_init(0);
  int nt = (int)pool->workers.size() + 1;
  if (in_worker || nt == 1 || n == 1) {
    fn(0, n, 0);
    return;
  }
  std::lock_guard<std::mutex> submit(pool->submit_mu);
  int nchunks = std::min(n, std::max(nt * CHUNKS_PER_THREAD, chunks));
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lk(pool->mu);
    const int g = (int)((unsigned)pool->generation.load() + 1u);  // wraps; only its low 16 bits tag the claim word
    gen = (uint64_t)(unsigned)g;
    pool->job = &fn;
    pool->n = n;
    pool->done.store(0, std::memory_order_relaxed);
    pool->sleepers_done.store(0, std::memory_order_relaxed);
    pool->claim.store(pack(gen, (uint64_t)nchunks, 0), std::memory_order_release);
    pool->generation.store(g, std::memory_order_release);
  }
  pool->cv_start.notify_all();
  in_worker = true;  // nested parallel_for from this thread's chunks runs serially
  run_chunks(gen, 0);
  in_worker = false;
  // every chunk is claimed; wait for those still running on workers
  int spins = 0;
  while (pool->done.load(std::memory_order_acquire) != nchunks && spins < SPIN) {
    cpu_relax();
    spins++;
  }
  if (pool->done.load(std::memory_order_acquire) != nchunks) {
    std::unique_lock<std::mutex> lk(pool->mu);
    pool->sleepers_done.store(1);
    pool->cv_done.wait(lk, [&] { return pool->done.load() == nchunks; });
  }
}
