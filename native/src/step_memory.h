// The memory of a phrase's step: its big float buffers (the activations that become the factors X and G, the
// logits that become the head's G, and the forward's and backward's temporaries), carved by bump allocation from
// slabs that are kept, once freed, in a bounded process-wide cache.
//
// Why: a fresh buffer faults its pages in one by one on first touch, and a step writes tens of MB of them (Gemma 3 1B:
// ~13k faults, ~40 % of the step on a VM charging ~12 µs per 4 KiB page). A slab from the cache is already mapped
// and touched: the next step reuses it without a fault. Slabs of 2 MiB and more are 2 MiB-aligned and advised onto
// huge pages on Linux (a fresh one faults in 2 MiB pieces), smaller ones are plain pages: a tiny model's step (the
// tests' organism, an imported checkpoint) does not pin a 2 MiB page.
//
// A StepMemory is used by one thread at a time (the step being built, then readers only); the cache behind it is
// shared by every thread (a step on a worker while another is freed on the main thread) and locked.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "floats.h"

class StepMemory {
 public:
  StepMemory() = default;
  ~StepMemory();  // every slab back to the process cache
  StepMemory(const StepMemory&) = delete;
  StepMemory& operator=(const StepMemory&) = delete;

  Floats zeros(size_t n);                   // n floats, all 0
  Floats uninit(size_t n);                  // n floats, unspecified: for buffers written whole before they are read
  Floats copy(const float* x, size_t n);    // n floats, a copy of x[0 … n)
  Floats copy(Floats x) { return copy(x.data(), x.size()); }
  double* doubles(size_t n);                // n doubles, unspecified (64-byte aligned)
  size_t bytes() const { return handed_; }  // bytes handed out and not released (what the owner holds)

  // Release in stack order: everything handed out after mark() is given back by release_to (its slabs stay with
  // this StepMemory for the next buffers); what was handed out before stays valid.
  struct Mark {
    size_t slab, used, handed;
  };
  Mark mark() const;
  void release_to(const Mark& m);
  // slabs this StepMemory no longer uses (after release_to) back to the cache: call when done building
  void trim();

 private:
  struct Slab {
    char* p;
    size_t size;
    size_t used;   // bytes handed out from its start
    size_t dirty;  // bytes ever written since it was mapped: beyond, the memory is still the kernel's zeros
  };
  float* take(size_t n, bool zero);
  std::vector<Slab> slabs_;
  size_t cur_ = 0;     // the slab being carved; the ones after it are unused
  size_t handed_ = 0;
};

// The cache, for tests and the bench: bytes held by live StepMemory objects and by the cache, slabs mapped and
// slabs handed out again from the cache since the process started.
struct StepMemoryStats {
  uint64_t live_bytes, cached_bytes, slabs_mapped, slabs_reused;
};
StepMemoryStats step_memory_stats();
