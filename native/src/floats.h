// A span of floats: the step's factors and buffers (step_memory.h) and the kernels that scan them (kernels.h).
#pragma once
#include <cstddef>

// n floats owned elsewhere (a StepMemory): reads like a std::vector<float> (data, size, [], begin, end), so the
// readers of factors compile unchanged. Copying a Floats shares the floats.
struct Floats {
  float* p = nullptr;
  size_t n = 0;
  float* data() const { return p; }
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  float& operator[](size_t i) const { return p[i]; }
  float* begin() const { return p; }
  float* end() const { return p + n; }
};
