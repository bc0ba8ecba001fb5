// Slabs for the step's buffers (step_memory.h): mapped fresh, advised onto huge pages when 2 MiB or more, bump-
// allocated, and cached when freed so the next step finds them mapped and touched.
#include "step_memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#ifdef __linux__
#include <sys/mman.h>
#endif

namespace {
const size_t KiB = 1024, MiB = 1024 * KiB;
const size_t HUGE_PAGE = 2 * MiB;
const size_t ALIGN = 64;                 // a cache line: the kernels' 64-byte loads never split a line
const size_t FIRST_SLAB = 256 * KiB;     // a StepMemory's slabs grow 256 KiB, 512 KiB, … (a tiny step stays tiny)
const size_t LARGEST_CLASS = 64 * MiB;   // … up to 64 MiB (a bigger buffer gets a slab of its own size)
const size_t CACHE_FLOOR = 256 * MiB;    // the cache keeps max(this, the largest StepMemory seen)

size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

// The size a slab of at least `need` bytes is mapped with: the size classes keep repeated steps of one shape asking
// for the same sizes, so the cache's slabs fit them.
size_t slab_size(size_t need, size_t nth) {
  size_t s = FIRST_SLAB << std::min<size_t>(nth, 8);
  s = std::min(s, LARGEST_CLASS);
  s = std::max(s, need);
  if (s < HUGE_PAGE) {
    size_t p = FIRST_SLAB;
    while (p < s) p *= 2;
    return p;
  }
  return round_up(s, HUGE_PAGE);
}

struct FreeSlab {
  char* p;
  size_t size, dirty;
};

// Fresh memory of `size` bytes, zero; 2 MiB-aligned and advised onto huge pages when size is a multiple of 2 MiB.
// Returns its dirty mark: 0 when the memory is the kernel's zeros, size when it had to be cleared here.
char* map_slab(size_t size, size_t* dirty) {
#ifdef __linux__
  const bool huge = size % HUGE_PAGE == 0;
  const size_t extra = huge ? HUGE_PAGE : 0;
  void* m = mmap(nullptr, size + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  char* p = (char*)m;
  if (huge) {  // trim the mapping to a 2 MiB-aligned span
    char* a = (char*)round_up((uintptr_t)p, HUGE_PAGE);
    if (a > p) munmap(p, a - p);
    if (a + size < p + size + extra) munmap(a + size, (p + size + extra) - (a + size));
    p = a;
    madvise(p, size, MADV_HUGEPAGE);
  }
  *dirty = 0;
  return p;
#else
  void* p = nullptr;
  const size_t align = size % HUGE_PAGE == 0 ? HUGE_PAGE : 4096;
#ifdef _WIN32
  p = _aligned_malloc(size, align);
#else
  if (posix_memalign(&p, align, size) != 0) p = nullptr;
#endif
  if (!p) throw std::bad_alloc();
  *dirty = size;  // not known to be zero
  return (char*)p;
#endif
}

void unmap_slab(char* p, size_t size) {
#ifdef __linux__
  munmap(p, size);
#elif defined(_WIN32)
  (void)size;
  _aligned_free(p);
#else
  (void)size;
  std::free(p);
#endif
}

// The process-wide cache of freed slabs, oldest first.
struct Cache {
  std::mutex mu;
  std::deque<FreeSlab> free;
  size_t cached = 0, live = 0, largest_owner = 0;
  uint64_t mapped = 0, reused = 0;
};
Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: a step may be freed during exit, after static destructors
  return *c;
}

// A slab of at least `need` bytes for the nth slab of a StepMemory: the cache's best fit (not more than twice the
// size asked for, so a small request does not take a large slab), else a fresh one.
FreeSlab acquire(size_t need, size_t nth) {
  const size_t want = slab_size(need, nth);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    size_t best = c.free.size();
    for (size_t i = 0; i < c.free.size(); i++) {
      const size_t s = c.free[i].size;
      if (s >= want && s <= 2 * want && (best == c.free.size() || s < c.free[best].size)) best = i;
    }
    if (best < c.free.size()) {
      FreeSlab f = c.free[best];
      c.free.erase(c.free.begin() + best);
      c.cached -= f.size;
      c.live += f.size;
      c.reused++;
      return f;
    }
    c.live += want;
    c.mapped++;
  }
  FreeSlab f{nullptr, want, 0};
  try {
    f.p = map_slab(want, &f.dirty);
  } catch (...) {
    std::lock_guard<std::mutex> lock(c.mu);
    c.live -= want;
    throw;
  }
  return f;
}

// Slabs back to the cache; beyond its bound, the oldest are unmapped. owner_bytes: the releasing StepMemory's total
// (the bound follows the largest seen: a step of that size must find all it needs).
void release(const std::vector<FreeSlab>& slabs, size_t owner_bytes) {
  std::vector<FreeSlab> drop;
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.largest_owner = std::max(c.largest_owner, owner_bytes);
    for (const FreeSlab& f : slabs) {
      c.free.push_back(f);
      c.cached += f.size;
      c.live -= f.size;
    }
    const size_t bound = std::max(CACHE_FLOOR, c.largest_owner);
    while (c.cached > bound) {
      drop.push_back(c.free.front());
      c.cached -= c.free.front().size;
      c.free.pop_front();
    }
  }
  for (const FreeSlab& f : drop) unmap_slab(f.p, f.size);  // outside the lock: munmap takes its time
}
}  // namespace

StepMemory::~StepMemory() {
  std::vector<FreeSlab> back;
  size_t total = 0;
  for (const Slab& s : slabs_) {
    back.push_back({s.p, s.size, std::max(s.dirty, s.used)});
    total += s.size;
  }
  if (!back.empty()) release(back, total);
}

float* StepMemory::take(size_t n, bool zero) {
  if (n == 0) return nullptr;
  const size_t b = round_up(n * sizeof(float), ALIGN);
  size_t i = cur_;
  for (; i < slabs_.size(); i++) {  // the current slab, else an unused one after it that is large enough
    const size_t at = round_up(slabs_[i].used, ALIGN);
    if (at + b <= slabs_[i].size) break;
  }
  if (i == slabs_.size()) {
    const FreeSlab f = acquire(b, slabs_.size());
    slabs_.push_back({f.p, f.size, 0, f.dirty});
  }
  cur_ = i;
  Slab& s = slabs_[i];
  const size_t at = round_up(s.used, ALIGN);
  char* p = s.p + at;
  // only what was written before needs clearing: past `dirty` the memory is the kernel's zeros
  if (zero && at < s.dirty) std::memset(p, 0, std::min(b, s.dirty - at));
  s.used = at + b;
  s.dirty = std::max(s.dirty, s.used);
  handed_ += b;
  return (float*)p;
}

Floats StepMemory::zeros(size_t n) { return Floats{take(n, true), n}; }
Floats StepMemory::uninit(size_t n) { return Floats{take(n, false), n}; }
Floats StepMemory::copy(const float* x, size_t n) {
  Floats f{take(n, false), n};
  if (n) std::memcpy(f.p, x, n * sizeof(float));
  return f;
}

double* StepMemory::doubles(size_t n) { return (double*)take(2 * n, false); }

StepMemory::Mark StepMemory::mark() const {
  return Mark{cur_, cur_ < slabs_.size() ? slabs_[cur_].used : 0, handed_};
}

void StepMemory::release_to(const Mark& m) {
  for (size_t i = m.slab + 1; i < slabs_.size(); i++) slabs_[i].used = 0;
  if (m.slab < slabs_.size()) slabs_[m.slab].used = m.used;
  cur_ = m.slab;
  handed_ = m.handed;
}

void StepMemory::trim() {
  std::vector<FreeSlab> back;
  size_t total = 0;
  for (const Slab& s : slabs_) total += s.size;
  while (!slabs_.empty() && slabs_.back().used == 0) {
    back.push_back({slabs_.back().p, slabs_.back().size, slabs_.back().dirty});
    slabs_.pop_back();
  }
  if (cur_ >= slabs_.size()) cur_ = slabs_.empty() ? 0 : slabs_.size() - 1;
  if (!back.empty()) release(back, total);
}

StepMemoryStats step_memory_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return StepMemoryStats{c.live, c.cached, c.mapped, c.reused};
}
